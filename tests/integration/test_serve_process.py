"""``lingua serve`` as an operator runs it: the worker process, timeouts, restarts, SIGTERM."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

pytestmark = [pytest.mark.integration]

TEXTS = ["The Eiffel Tower is a wrought-iron lattice tower in Paris.", "It was built in 1889."]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = _free_port()
    log = tmp_path_factory.mktemp("serve") / "stderr.log"
    cmd = [sys.executable, "-m", "lingua_core.cli", "serve", "--port", str(port)]
    cmd += ["--method", "random", "--methods", "naive", "--header-timeout", "1"]
    cmd += ["--body-timeout", "1"]
    with open(log, "wb") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert proc.poll() is None, log.read_text()
        time.sleep(0.1)
    yield {"url": url, "port": port, "proc": proc, "log": log}
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            out += [int(p) for p in (task / "children").read_text().split()]
    return out


def _worker(pid: int) -> int:
    for child in _children(pid):
        cmd = Path(f"/proc/{child}/cmdline").read_bytes()
        if b"resource_tracker" not in cmd:
            return child
    raise AssertionError("no worker process")


def test_results_come_from_the_worker_process_and_equal_in_process_ones(server):
    from lingua_core import get_compressor
    from lingua_core.serve.app import result_json

    r = httpx.post(f"{server['url']}/v1/compress", json={"texts": TEXTS, "rate": 0.5})
    assert r.status_code == 200
    local = get_compressor("random").compress(TEXTS, rate=0.5)
    assert r.json()["results"] == [result_json(x) for x in local]
    assert _worker(server["proc"].pid) != server["proc"].pid
    named = httpx.post(f"{server['url']}/v1/compress", json={"texts": TEXTS, "method": "naive"})
    assert named.json()["method"] == "naive"


def test_half_sent_headers_are_closed_and_a_short_body_gets_408(server):
    with socket.create_connection(("127.0.0.1", server["port"]), timeout=10) as s:
        s.sendall(b"POST /v1/compress HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        t0 = time.monotonic()
        assert s.recv(1) == b""  # closed by the server
        assert time.monotonic() - t0 < 5
    with socket.create_connection(("127.0.0.1", server["port"]), timeout=10) as s:
        s.sendall(
            b"POST /v1/compress HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
            b'\r\nContent-Length: 1000\r\n\r\n{"texts": ['
        )
        assert s.recv(100).startswith(b"HTTP/1.1 408")


def test_a_killed_worker_is_replaced_and_the_server_serves_again(server):
    url = server["url"]
    os.kill(_worker(server["proc"].pid), signal.SIGKILL)
    deadline = time.monotonic() + 120
    statuses = []
    while time.monotonic() < deadline:
        r = httpx.post(f"{url}/v1/compress", json={"texts": TEXTS, "rate": 0.5}, timeout=30)
        statuses.append(r.status_code)
        if r.status_code == 200:
            break
        assert r.status_code == 503 and "retry-after" in r.headers
        time.sleep(0.2)
    assert statuses[-1] == 200
    assert "lingua_worker_restarts_total 1" in httpx.get(f"{url}/metrics").text


def test_sigterm_drains_and_exits_0_with_one_log_line_per_request(server):
    proc = server["proc"]
    n_before = server["log"].read_text().count(" POST /v1/compress ")
    httpx.post(f"{server['url']}/v1/compress", json={"texts": TEXTS, "rate": 0.5})
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0
    log = server["log"].read_text()
    assert log.count(" POST /v1/compress ") == n_before + 1
    assert re.search(r" POST /v1/compress 200 [\d.]+ ms random \d+ -> \d+ tokens", log)
