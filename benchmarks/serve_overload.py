"""Overload, abandonment, soak, cold starts and abuse of ``lingua serve`` on loopback.

Every server runs in a child process bound to 127.0.0.1, every load is bounded in requests and
time, and every admitted response is compared with the in-process result of the same request.

- **flood**: ``--clients`` (120) clients send 20-passage requests back to back for
  ``--flood-s`` seconds; after a 503 a client waits the server's ``Retry-After`` (capped at 2 s,
  jittered x0.5-1.5). A prober asks ``/health`` every 100 ms. Then every client leaves at once,
  mid-request: the server's CPU seconds in the next 10 s say whether abandoned work ran on.
  Reported: statuses, admitted p50/p99 against the unloaded p99, refusal p95, ``/health`` p99,
  RSS before and after, mismatches.
- **abandon**: 50 requests of 40 passages whose clients close after 1 s: CPU seconds after.
- **cheap**: 64 simultaneous ``random`` requests of 5 passages: all 200.
- **soak**: ``--soak-s`` seconds at ``--soak-clients`` clients (80% of capacity): worker RSS
  growth per 10,000 requests after warm-up, p99 of the first and last quarter, errors.
- **cold**: ``--cold`` cold starts, 4 concurrent clients from the moment ``/health`` is 200:
  requests that took longer than 10 s (hung).
- **abuse**: bodies and headers a hostile caller sends: statuses (no 500) and time to answer.

    .venv/bin/python benchmarks/serve_overload.py [--only flood,abandon,...] [--quick]
        [--server-path DIR]   # serve from another tree's lingua_core (the A/B)

``--server-path`` names a folder holding ``lingua_core`` (a link to another checkout's ``core``):
the same load against the tree before a change, in one run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from _common import DEFAULT_DATA, ROOT, load_passages

QUERY = "Who won the first Nobel Prize in Physics?"
RATE = 0.33
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``lingua serve`` in a child process (and its worker process, if any)."""

    def __init__(self, method: str, extra: list[str], server_path: str | None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ)
        if server_path:
            env["PYTHONPATH"] = server_path + os.pathsep + env.get("PYTHONPATH", "")
        cmd = [sys.executable, "-m", "lingua_core.cli", "serve", "--port", str(self.port)]
        self.log = open(os.devnull, "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [*cmd, "--method", method, *extra], stdout=self.log, stderr=self.log, env=env
        )
        self.started = time.monotonic()
        self.exit_code: int | None = None

    def wait_ready(self, limit_s: float = 300) -> float:
        import httpx

        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return time.monotonic() - self.started
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"server not ready in {limit_s} s")

    def pids(self) -> list[int]:
        out = [self.proc.pid]
        for task in Path(f"/proc/{self.proc.pid}/task").glob("*"):
            with contextlib.suppress(OSError):
                out += [int(p) for p in (task / "children").read_text().split()]
        return out

    def worker_pid(self) -> int:
        """The process that compresses: the worker if there is one, else the server."""
        for pid in self.pids()[1:]:
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"resource_tracker" not in cmd:
                return pid
        return self.proc.pid

    def cpu_s(self) -> float:
        total = 0.0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / TICK
        return total

    def rss_mb(self) -> float:
        total = 0.0
        for pid in self.pids():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) / 1024
            except OSError:
                pass
        return total

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)


@contextlib.contextmanager
def serving(args: Any, extra: Sequence[str] = ()) -> Iterator[Server]:
    """A ready server for ``args`` (stopped with SIGTERM on leaving; its exit code kept)."""
    server = Server(args.method, [*extra, *args.server_args], args.server_path)
    try:
        server.wait_ready()
        yield server
    finally:
        server.exit_code = server.stop()


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * (len(values) - 1) + 0.5))]


def expected_results(method: str, calls: list[list[str]]) -> list[Any]:
    from lingua_core import get_compressor
    from lingua_core.serve.app import result_json

    comp = get_compressor(method)
    return [
        [json.loads(json.dumps(result_json(r))) for r in comp.compress(c, query=QUERY, rate=RATE)]
        for c in calls
    ]


class Conn:
    """A lean HTTP/1.1 keep-alive client on asyncio streams.

    httpx spends a few milliseconds of Python per request; 120 of them waking at once held the
    load generator's own event loop for seconds, which the latencies then counted. Pre-encoded
    requests and a bare response parser keep the generator's share of the 2 cores small.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: Any = None
        self.writer: Any = None

    async def request(self, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            self.writer.write(raw)
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (OSError, asyncio.IncompleteReadError):
            self.close()
            raise
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def encode(port: int, body: dict[str, Any], path: str = "/v1/compress") -> bytes:
    data = json.dumps(body).encode()
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    ).encode() + data


async def load(
    port: int,
    calls: list[list[str]],
    expect: list[Any] | None,
    clients: int,
    seconds: float,
    *,
    health: bool = True,
    cap_retry_s: float = 2.0,
    new_questions: bool = False,
) -> dict[str, Any]:
    """``clients`` clients back to back for ``seconds``; then all leave at once, mid-request.

    ``new_questions``: every request asks a question of its own (as real traffic does, and as
    a per-call cache must survive); every 25th response is kept in ``rec["sample"]`` to be
    compared with in-process results afterwards.
    """
    rng = random.Random(0)
    rec: dict[str, Any] = {"status": [], "ok_s": [], "refused_s": [], "health_s": [], "bad": 0}
    rec["mismatched"] = 0
    raws = [encode(port, {"texts": c, "query": QUERY, "rate": RATE}) for c in calls]
    end = time.monotonic() + seconds
    conns: list[Conn] = []

    async def client(i: int) -> None:
        conn = Conn(port)
        conns.append(conn)
        k = i
        while time.monotonic() < end:
            idx = k % len(calls)
            k += 7
            query, raw = QUERY, raws[idx]
            if new_questions:
                rec["asked"] = n = rec.get("asked", 0) + 1
                query = f"{QUERY} (question {n})"
                raw = encode(port, {"texts": calls[idx], "query": query, "rate": RATE})
            t0 = time.monotonic()
            try:
                status, headers, body = await conn.request(raw)
            except (OSError, asyncio.IncompleteReadError) as e:
                rec["status"].append(type(e).__name__)
                await asyncio.sleep(0.1)
                continue
            took = time.monotonic() - t0
            rec["status"].append(status)
            if status == 200:
                rec["ok_s"].append(took)
                out = json.loads(body)
                u = out["usage"]
                cm = (u.get("queue_ms", 0) / 1000, u.get("compute_ms", 0) / 1000)
                rec.setdefault("ok_at", []).append(
                    (round(t0 - end + seconds, 2), round(took, 3), cm)
                )
                if new_questions:
                    if len(rec["ok_s"]) % 25 == 0:
                        rec.setdefault("sample", []).append((idx, query, out["results"]))
                elif expect is not None and out["results"] != expect[idx]:
                    rec["mismatched"] += 1
            elif status == 503:
                rec["refused_s"].append(took)
                ra = headers.get("retry-after")
                if ra is None:
                    rec["bad"] += 1
                wait = min(float(ra or 1), cap_retry_s) * rng.uniform(0.5, 1.5)
                await asyncio.sleep(wait)

    async def prober() -> None:
        conn = Conn(port)
        conns.append(conn)
        raw = f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
        while time.monotonic() < end:
            t0 = time.monotonic()
            try:
                await conn.request(raw)
                rec["health_s"].append(time.monotonic() - t0)
            except (OSError, asyncio.IncompleteReadError):
                rec["health_s"].append(float("inf"))
            await asyncio.sleep(0.1)

    tasks = [asyncio.create_task(client(i)) for i in range(clients)]
    if health:
        tasks.append(asyncio.create_task(prober()))
    await asyncio.sleep(seconds)
    for t in tasks:  # everyone leaves at once, mid-request
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for c in conns:
        c.close()
    await asyncio.sleep(0.1)
    return rec


def unloaded(url: str, calls: list[list[str]], n: int) -> list[float]:
    import httpx

    out = []
    with httpx.Client(timeout=60) as http:
        for i in range(n):
            t0 = time.monotonic()
            r = http.post(
                f"{url}/v1/compress",
                json={"texts": calls[i % len(calls)], "query": QUERY, "rate": RATE},
            )
            r.raise_for_status()
            out.append(time.monotonic() - t0)
    return out


def cpu_after(server: Server, settle_s: float = 10.0) -> float:
    c0 = server.cpu_s()
    time.sleep(settle_s)
    return server.cpu_s() - c0


def flood(args: Any, calls: list[list[str]], expect: list[Any]) -> dict[str, Any]:
    with serving(args) as server:
        unloaded(server.url, calls, 5)  # warm
        base = unloaded(server.url, calls, 20)
        rss0 = server.rss_mb()
        rec = asyncio.run(load(server.port, calls, expect, args.clients, args.flood_s))
        cpu = cpu_after(server)
        rss1 = server.rss_mb()
    code = server.exit_code
    statuses: dict[str, int] = {}
    for s in rec["status"]:
        statuses[str(s)] = statuses.get(str(s), 0) + 1
    admitted = len(rec["ok_s"])
    return {
        "clients": args.clients,
        "seconds": args.flood_s,
        "unloaded_p50_ms": statistics.median(base) * 1000,
        "unloaded_p99_ms": pct(base, 0.99) * 1000,
        "statuses": statuses,
        "admitted_per_s": admitted / args.flood_s,
        "admitted_p50_ms": pct(rec["ok_s"], 0.5) * 1000,
        "admitted_p99_ms": pct(rec["ok_s"], 0.99) * 1000,
        "admitted_p99_x_unloaded": pct(rec["ok_s"], 0.99) / pct(base, 0.99),
        "refused_p95_ms": pct(rec["refused_s"], 0.95) * 1000,
        "refused_without_retry_after": rec["bad"],
        "health_p99_ms": pct(rec["health_s"], 0.99) * 1000,
        "shed_share": statuses.get("503", 0) / max(1, len(rec["status"])),
        "mismatched": rec["mismatched"],
        "slowest_admitted": sorted(rec.get("ok_at", []), key=lambda x: -x[1])[:5],
        "cpu_s_after_clients_left": cpu,
        "rss_mb_before": rss0,
        "rss_mb_after": rss1,
        "exit_code": code,
    }


def abandon(args: Any, passages: list[str]) -> dict[str, Any]:
    """50 requests of 40 passages whose clients close after 1 s."""
    import httpx

    with serving(args) as server:
        body = {"texts": passages[:40], "query": QUERY, "rate": RATE}

        async def go() -> None:
            async with httpx.AsyncClient(timeout=1.0) as http:

                async def one() -> None:
                    with contextlib.suppress(httpx.HTTPError):
                        await http.post(f"{server.url}/v1/compress", json=body)

                await asyncio.gather(*(one() for _ in range(50)))

        c0 = server.cpu_s()
        t0 = time.monotonic()
        asyncio.run(go())
        left_after = time.monotonic() - t0
        cpu_during = server.cpu_s() - c0
        cpu = cpu_after(server, 15.0)
        metrics = httpx.get(f"{server.url}/metrics", timeout=10).text
    code = server.exit_code
    counted = [ln for ln in metrics.splitlines() if ln.startswith("lingua_requests_total")]
    return {
        "clients_left_after_s": left_after,
        "cpu_s_while_clients_waited": cpu_during,
        "cpu_s_in_15_s_after": cpu,
        "metrics": counted,
        "exit_code": code,
    }


def cheap(args: Any, passages: list[str]) -> dict[str, Any]:
    """64 simultaneous ``random`` requests of 5 passages on a server with the defaults."""
    import httpx

    with serving(args) as server:

        async def go() -> list[int]:
            limits = httpx.Limits(max_connections=80)
            async with httpx.AsyncClient(timeout=60, limits=limits) as http:

                async def one(i: int) -> int:
                    body = {"texts": passages[i % 40 : i % 40 + 5], "method": "random", "rate": 0.5}
                    r = await http.post(f"{server.url}/v1/compress", json=body)
                    return r.status_code

                return list(await asyncio.gather(*(one(i) for i in range(64))))

        codes = asyncio.run(go())
    return {"requests": 64, "ok": sum(c == 200 for c in codes), "other": sorted(set(codes) - {200})}


def soak(args: Any, calls: list[list[str]], expect: list[Any]) -> dict[str, Any]:
    samples: list[tuple[float, int, float]] = []
    with serving(args) as server:
        worker = server.worker_pid()

        def rss(pid: int) -> float:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
            return float("nan")

        done_count = [0]

        async def run() -> dict[str, Any]:
            async def sampler() -> None:
                t0 = time.monotonic()
                while True:
                    samples.append((time.monotonic() - t0, done_count[0], rss(worker)))
                    await asyncio.sleep(5)

            task = asyncio.create_task(sampler())
            quarter = args.soak_s / 4
            recs = []
            for _ in range(4):
                r = await load(
                    server.port,
                    calls,
                    None,
                    args.soak_clients,
                    quarter,
                    health=False,
                    new_questions=True,
                )
                done_count[0] += len(r["ok_s"])
                recs.append(r)
            task.cancel()
            return {"quarters": recs}

        out = asyncio.run(run())
    recs = out["quarters"]
    from lingua_core import get_compressor
    from lingua_core.serve.app import result_json

    comp = get_compressor(args.method)
    sample = [x for r in recs for x in r.get("sample", [])]
    mismatched = sum(
        [
            json.loads(json.dumps(result_json(r)))
            for r in comp.compress(calls[i], query=q, rate=RATE)
        ]
        != got
        for i, q, got in sample
    )
    total = sum(len(r["ok_s"]) for r in recs)
    errors = sum(1 for r in recs for s in r["status"] if s not in (200, 503))
    warm = [s for s in samples if s[1] >= total * 0.25] or samples
    growth = (warm[-1][2] - warm[0][2]) if len(warm) > 1 else 0.0
    reqs = max(1, warm[-1][1] - warm[0][1]) if len(warm) > 1 else 1
    return {
        "seconds": args.soak_s,
        "clients": args.soak_clients,
        "requests": total,
        "errors": errors,
        "compared": len(sample),
        "mismatched": mismatched,
        "shed": sum(1 for r in recs for s in r["status"] if s == 503),
        "rss_mb_after_warmup": warm[0][2],
        "rss_mb_end": warm[-1][2],
        "rss_growth_pct_after_warmup": 100 * growth / max(1e-9, warm[0][2]),
        "rss_mb_per_10k_requests": growth / reqs * 10_000,
        "p99_ms_first_quarter": pct(recs[0]["ok_s"], 0.99) * 1000,
        "p99_ms_last_quarter": pct(recs[-1]["ok_s"], 0.99) * 1000,
        "rss_samples": [(round(t, 1), n, round(m, 1)) for t, n, m in samples],
    }


def cold(args: Any, calls: list[list[str]]) -> dict[str, Any]:
    hung = []
    worst = 0.0
    ok = shed = 0
    for i in range(args.cold):
        with serving(args) as server:
            rec = asyncio.run(load(server.port, calls, None, 4, 6.0, health=False))
        worst = max([worst, *rec["ok_s"], *rec["refused_s"]])
        shed += sum(s == 503 for s in rec["status"])
        ok += sum(s == 200 for s in rec["status"])
        bad = [s for s in rec["status"] if s not in (200, 503)]  # 503: shed, with Retry-After
        if any(t > 10 for t in rec["ok_s"]) or bad:
            hung.append((i, bad, max(rec["ok_s"], default=0)))
    return {
        "cold_starts": args.cold,
        "runs_with_a_hang_or_error": hung,
        "slowest_s": worst,
        "ok": ok,
        "shed": shed,
    }


def abuse(args: Any) -> dict[str, Any]:
    """Hostile inputs: each one's status and seconds to answer (or to close)."""
    import httpx

    out: dict[str, Any] = {}
    with serving(args, ["--api-key", "k"]) as server:
        url = f"{server.url}/v1/compress"
        auth = {"Authorization": "Bearer k"}
        cases: dict[str, dict[str, Any]] = {
            "method 'a|b'": {"json": {"texts": ["a"], "method": "a|b"}},
            "method with a quote and a newline": {"json": {"texts": ["a"], "method": 'x"}\n1'}},
            "lone surrogate method": {
                "content": b'{"texts": ["a"], "method": "\\ud800"}',
            },
            "JSON nested 100,000 deep": {
                "content": b'{"texts": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
            },
            "a method not served (llmlingua2)": {"json": {"texts": ["a"], "method": "llmlingua2"}},
            "text/plain body": {"content": b'{"texts": ["a"]}', "ctype": "text/plain"},
            "NaN rate": {"content": b'{"texts": ["a"], "rate": NaN}'},
            "300 MB chunked body": {"stream": 300},
            "lowercase bearer": {"json": {"texts": ["a b"]}, "auth": {"Authorization": "bearer k"}},
            "bare key": {"json": {"texts": ["a"]}, "auth": {"Authorization": "k"}},
        }
        for name, case in cases.items():
            headers = dict(case.get("auth", auth))
            headers["Content-Type"] = case.get("ctype", "application/json")
            t0 = time.monotonic()
            try:
                if "stream" in case:

                    def chunks(n: int = case["stream"]) -> Any:
                        block = b"x" * (1 << 20)
                        yield b'{"texts": ["'
                        for _ in range(n):
                            yield block

                    r = httpx.post(url, content=chunks(), headers=headers, timeout=60)
                elif "json" in case:
                    r = httpx.post(url, json=case["json"], headers=headers, timeout=60)
                else:
                    r = httpx.post(url, content=case["content"], headers=headers, timeout=60)
                out[name] = (r.status_code, round(time.monotonic() - t0, 3))
            except httpx.HTTPError as e:
                out[name] = (type(e).__name__, round(time.monotonic() - t0, 3))
        for path in ("/metrics", "/docs", "/openapi.json"):
            out[f"GET {path} without the key"] = (httpx.get(f"{server.url}{path}").status_code, 0)
        out["metrics after abuse"] = (
            httpx.get(f"{server.url}/metrics", headers=auth).status_code,
            0,
        )
        # Slow senders: 50 sockets that send half their headers, and one short body.
        socks = []
        t0 = time.monotonic()
        for _ in range(50):
            s = socket.create_connection(("127.0.0.1", server.port), timeout=30)
            s.sendall(b"POST /v1/compress HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            socks.append(s)
        short = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        short.sendall(
            b"POST /v1/compress HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer k\r\n"
            b'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"texts": ['
        )
        short.settimeout(15)
        try:
            answer = short.recv(200).split(b"\r\n", 1)[0].decode() or "closed"
        except TimeoutError:
            answer = "no answer in 15 s"
        out["body shorter than its Content-Length"] = (answer, round(time.monotonic() - t0, 3))
        time.sleep(max(0.0, t0 + 12 - time.monotonic()))  # past a 10 s header timeout
        closed = 0
        for s in socks:
            s.settimeout(0.05)
            try:
                closed += s.recv(1) == b""
            except TimeoutError:
                pass  # still open
            except OSError:
                closed += 1
        out["half-sent headers (50 sockets) closed"] = (closed, round(time.monotonic() - t0, 3))
        for s in [*socks, short]:
            s.close()
        rss = server.rss_mb()
    code = server.exit_code
    out["server RSS after"] = (round(rss), 0)
    out["exit code after SIGTERM"] = (code, 0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", default="coarse_to_fine")
    ap.add_argument("--only", default="flood,abandon,cheap,cold,abuse,soak")
    ap.add_argument("--clients", type=int, default=120)
    ap.add_argument("--flood-s", type=float, default=30.0)
    ap.add_argument("--soak-s", type=float, default=600.0)
    ap.add_argument("--soak-clients", type=int, default=2)
    ap.add_argument("--cold", type=int, default=20)
    ap.add_argument("--quick", action="store_true", help="CI: short flood, 2 cold starts, no soak")
    ap.add_argument("--server-path", default=None, help="serve from this folder's lingua_core")
    ap.add_argument("--server-args", default="", help="extra `lingua serve` arguments")
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/serve_overload.json"))
    args = ap.parse_args()
    args.server_args = args.server_args.split()
    if args.quick:
        args.flood_s, args.clients, args.cold, args.soak_s = 8.0, 40, 2, 20.0
    passages = load_passages(DEFAULT_DATA, 60)
    calls = [passages[i : i + 20] for i in range(40)]
    only = args.only.split(",")
    expect = expected_results(args.method, calls) if {"flood", "soak"} & set(only) else []
    report: dict[str, Any] = {
        "method": args.method,
        "cpus": os.cpu_count(),
        "tree": args.server_path or "this",
    }
    for name in only:
        t0 = time.monotonic()
        if name == "flood":
            report[name] = flood(args, calls, expect)
        elif name == "abandon":
            report[name] = abandon(args, passages)
        elif name == "cheap":
            report[name] = cheap(args, passages)
        elif name == "soak":
            report[name] = soak(args, calls, expect)
        elif name == "cold":
            report[name] = cold(args, calls)
        elif name == "abuse":
            report[name] = abuse(args)
        else:
            raise SystemExit(f"unknown part {name!r}")
        report[name]["wall_s"] = round(time.monotonic() - t0, 1)
        print(name, json.dumps(report[name], default=str), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1, default=str) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
