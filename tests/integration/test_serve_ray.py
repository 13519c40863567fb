"""``lingua serve --ray``: the same HTTP contract from two Ray Serve replicas on loopback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from lingua_core import RemoteCompressor, get_compressor

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TEXTS = [
    "The Eiffel Tower was completed in 1889 for the World's Fair in Paris.",
    "Gustave Eiffel's company designed and built the tower.",
    "It is 330 metres tall and was the tallest structure in the world until 1930.",
]


#: Ports a local Ray cluster binds itself (GCS, client server, dashboard and its agent, the
#: agent's gRPC, metrics): an ephemeral port picked for the proxy must not be one of them.
RAY_PORTS = {6379, 8000, 8265, 10001, 52365, 44217, 44227}


def _free_port() -> int:
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in RAY_PORTS:
            return port


@pytest.fixture(scope="module")
def ray_server():
    port = _free_port()
    env = dict(os.environ, RAY_DEDUP_LOGS="0", LINGUA_API_KEY="sekret")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lingua_core.cli",
            "serve",
            "--ray",
            "--replicas",
            "2",
            "--method",
            "random",
            "--port",
            str(port),
            "--max-texts",
            "8",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"lingua serve --ray exited: {proc.stdout.read()[-3000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("Ray Serve did not come up in 180 s")
    yield url, proc
    if proc.poll() is None:
        proc.kill()
        proc.wait(30)


def test_replicas_answer_what_the_core_returns_with_the_same_contract(ray_server):
    url, _ = ray_server
    remote = RemoteCompressor(url, api_key="sekret", method="random")
    local = get_compressor("random")
    calls = [(TEXTS[: 1 + i % 3], 0.3 + 0.1 * (i % 5), i) for i in range(48)]
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda c: remote.compress(c[0], rate=c[1], seed=c[2]), calls))
    assert got == [local.compress(t, rate=r, seed=s) for t, r, s in calls]

    auth = {"Authorization": "Bearer sekret"}
    seen = set()
    with httpx.Client(base_url=url, timeout=30) as c:
        for _ in range(24):
            r = c.post("/v1/compress", json={"texts": TEXTS, "rate": 0.5}, headers=auth)
            assert r.status_code == 200 and r.json()["method"] == "random"
            seen.add(r.headers["x-lingua-instance"])
        assert len(seen) == 2  # both replicas served
        assert c.post("/v1/compress", json={"texts": TEXTS}).status_code == 401
        r = c.post("/v1/compress", json={"texts": ["x"] * 9}, headers=auth)
        assert (r.status_code, r.json()["error"]) == (413, "9 texts; at most 8 per request")
        r = c.post(
            "/v1/compress", content=b"{bad", headers={**auth, "Content-Type": "application/json"}
        )
        assert r.status_code == 400 and r.json()["error"].startswith("invalid JSON")
        r = c.post("/v1/compress", json={"texts": TEXTS, "rate": 2}, headers=auth)
        assert r.status_code == 400 and "rate must be in (0, 1]" in r.json()["error"]
        assert "lingua_requests_total" in c.get("/metrics", headers=auth).text
        assert c.get("/metrics").status_code == 401  # behind the key
        assert c.get("/v1/methods", headers=auth).json()["default"] == "random"


def test_sigterm_shuts_the_replicas_and_the_local_cluster_down(ray_server):
    _, proc = ray_server
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(90) == 0


def test_the_deployment_checks_its_resources():
    from lingua_core.serve.ray_app import build

    with pytest.raises(ValueError, match="replicas must be an int >= 1, got 0"):
        build({"method": "naive"}, replicas=0)
    with pytest.raises(ValueError, match="num_gpus must be a number >= 0"):
        build({"method": "naive"}, num_gpus=-1)
