"""Load and fault tests of ``lingua serve`` on loopback: throughput, latency, correctness, faults.

A server runs in a child process on 127.0.0.1 (bounded: a fixed number of requests, a time
limit on every step). Every response is compared with the in-process result of the same request
(zero mismatches and zero lost requests expected). Measured, for 1 / 8 / 64 concurrent clients:
throughput and its ratio to in-process sequential calls, p50 / p99 latency, and the server's peak
RSS; one 20-passage call's p50 served against in-process. Faults: a client that disconnects
mid-request, malformed JSON, an oversized body, a wrong token, and a server restarted under load
(clients retry through ``RemoteCompressor`` and finish).

    .venv/bin/python benchmarks/serve_load.py [--method coarse_to_fine] [--quick] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _common import DEFAULT_DATA, ROOT, load_passages

KEY = "bench-key"
QUERY = "Who won the first Nobel Prize in Physics?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(port: int, method: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "lingua_core.cli", "serve", "--port", str(port)]
    proc = subprocess.Popen(
        [*cmd, "--method", method, "--api-key", KEY],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import httpx

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not become ready in 180 s")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_clients(url: str, calls: list[list[str]], clients: int, rate: float) -> tuple[list, list]:
    from lingua_core import RemoteCompressor

    remote = RemoteCompressor(url, api_key=KEY, timeout=120, retries=200, backoff=0.1, deadline=600)

    def one(texts: list[str]) -> tuple[float, list]:
        t0 = time.perf_counter()
        res = remote.compress(texts, query=QUERY, rate=rate)
        return time.perf_counter() - t0, res

    with ThreadPoolExecutor(clients) as pool:
        out = list(pool.map(one, calls))
    return [t for t, _ in out], [r for _, r in out]


def faults(port: int) -> dict[str, str]:
    import httpx

    url = f"http://127.0.0.1:{port}/v1/compress"
    auth = {"Authorization": f"Bearer {KEY}"}
    out = {}
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:  # disconnect mid-body
        s.sendall(
            b"POST /v1/compress HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {KEY}\r\nContent-Length: 1000\r\n\r\n".encode()
            + b'{"texts": ["half'
        )
    ok = httpx.post(url, json={"texts": ["still serving"]}, headers=auth, timeout=30)
    out["client disconnects mid-request, then a request"] = str(ok.status_code)
    bad = {**auth, "Content-Type": "application/json"}
    out["malformed JSON"] = str(httpx.post(url, content=b"{oops", headers=bad).status_code)
    big = {"texts": ["x" * 9_000_000]}
    out["oversized body"] = str(httpx.post(url, json=big, headers=auth, timeout=60).status_code)
    out["wrong token"] = str(
        httpx.post(url, json={"texts": ["a"]}, headers={"Authorization": "Bearer no"}).status_code
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", default="coarse_to_fine")
    ap.add_argument("--quick", action="store_true", help="a small run (CI): fewer requests")
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/serve_load.md"))
    args = ap.parse_args()
    from lingua_core import get_compressor
    from lingua_core.serve.app import result_json

    n_calls = 16 if args.quick else 128
    passages = load_passages(DEFAULT_DATA, 60)
    calls = [passages[i % 40 : i % 40 + 20] for i in range(n_calls)]
    rate = 0.33
    local = get_compressor(args.method)
    local.warmup()
    local.compress(calls[0], query=QUERY, rate=rate)
    t0 = time.perf_counter()
    want = []
    lat_local = []
    for c in calls:
        t1 = time.perf_counter()
        want.append(local.compress(c, query=QUERY, rate=rate))
        lat_local.append(time.perf_counter() - t1)
    in_process = len(calls) / (time.perf_counter() - t0)
    expect = [[result_json(r) for r in res] for res in want]

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start(port, args.method)
    rows, lost, mismatched = [], 0, 0
    try:
        for clients in (1, 8, 64):
            t0 = time.perf_counter()
            lat, got = run_clients(url, calls, clients, rate)
            wall = time.perf_counter() - t0
            lost += sum(1 for g in got if g is None)
            mismatched += sum(1 for g, e in zip(got, expect) if [result_json(r) for r in g] != e)
            lat.sort()
            rows.append(
                (
                    clients,
                    len(calls) / wall,
                    statistics.median(lat),
                    lat[int(0.99 * (len(lat) - 1))],
                )
            )
        fault = faults(port)
        rss = peak_rss_mb(proc.pid)
        # A restart under load: 8 clients run while the server is stopped (SIGTERM: in-flight
        # requests finish) and started again on the same port; the clients retry.
        result: dict[str, object] = {}

        def load() -> None:
            result["lat"], result["got"] = run_clients(url, calls, 8, rate)

        worker = threading.Thread(target=load)
        worker.start()
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        proc = start(port, args.method)
        worker.join(300)
        got = result.get("got") or []
        restart_ok = len(got) == len(calls) and all(
            [result_json(r) for r in g] == e for g, e in zip(got, expect)
        )
    finally:
        proc.terminate()
        proc.wait(30)
    single = rows[0][2]
    lines = [
        f"# benchmarks/serve_load.py --method {args.method}{' --quick' if args.quick else ''}: "
        f"{len(calls)} calls of 20 NQ passages, rate {rate}, loopback, CPU x{os.cpu_count()}",
        "",
        f"In-process sequential: {in_process:.2f} calls/s, "
        f"p50 {statistics.median(lat_local) * 1000:.1f} ms.",
        f"Served, one client: p50 {single * 1000:.1f} ms "
        f"({(single - statistics.median(lat_local)) * 1000:+.1f} ms against in-process).",
        "",
        "| clients | calls/s | vs in-process | p50 ms | p99 ms |",
        "|---|---|---|---|---|",
        *(
            f"| {c} | {tp:.2f} | {tp / in_process:.2f}x | {p50 * 1000:.1f} | {p99 * 1000:.1f} |"
            for c, tp, p50, p99 in rows
        ),
        "",
        f"Responses compared with in-process results: {mismatched} mismatched, {lost} lost "
        f"(of {3 * len(calls)}). Server peak RSS {rss:.0f} MB.",
        "",
        "| fault | status |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in fault.items()),
        f"| server restarted under load (8 clients retrying) | "
        f"{'all finished, all correct' if restart_ok else 'FAILED'} |",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).write_text(text, encoding="utf-8")
    print(
        json.dumps(
            {"mismatched": mismatched, "lost": lost, "restart_ok": restart_ok, "faults": fault}
        )
    )
    if mismatched or lost or not restart_ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
