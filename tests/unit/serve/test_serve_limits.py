"""The service under load and abuse: 503 + Retry-After, cancellation, deadlines, hostile input."""

from __future__ import annotations

import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient

from lingua_core.pipeline.cancel import check_cancelled
from lingua_core.serve.app import LOOPBACK_HOSTS, Service, create_app

JSON = {"Content-Type": "application/json"}
BODY = {"texts": ["one two three four"], "rate": 0.5}


def _ready(c: TestClient) -> TestClient:
    deadline = time.monotonic() + 60
    while c.get("/health").status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return c


class Blocking:
    """An engine.compress that runs until released or cancelled (and says which)."""

    def __init__(self, real):
        self.real = real
        self.release = threading.Event()
        self.started = threading.Event()
        self.cancelled = threading.Event()

    def __call__(self, req):
        if req["texts"] == ["block"]:
            self.started.set()
            while not self.release.is_set():
                try:
                    check_cancelled()
                except Exception:
                    self.cancelled.set()
                    raise
                time.sleep(0.005)
        return self.real(req)


@pytest.fixture
def blocked():
    svc = Service("random", methods=[], max_concurrency=1, max_queue=0)
    gate = Blocking(svc.engine.compress)
    svc.engine.compress = gate
    with TestClient(create_app(svc)) as c:
        yield _ready(c), gate, svc
        gate.release.set()


def test_past_capacity_requests_get_503_with_retry_after_at_once_and_health_answers(blocked):
    client, gate, _ = blocked
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(client.post, "/v1/compress", json={"texts": ["block"]})
        assert gate.started.wait(5)
        t0 = time.monotonic()
        r = client.post("/v1/compress", json=BODY)
        assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1
        assert "server busy" in r.json()["error"] and time.monotonic() - t0 < 1
        assert client.get("/health").status_code == 200
        gate.release.set()
        assert first.result(10).status_code == 200
    assert client.post("/v1/compress", json=BODY).status_code == 200  # the slot came back
    assert 'status="503"} 1' in client.get("/metrics").text


def test_a_request_past_its_deadline_gets_504_and_its_work_is_cancelled(blocked):
    client, gate, _ = blocked
    t0 = time.monotonic()
    r = client.post(
        "/v1/compress", json={"texts": ["block"]}, headers={"X-Lingua-Deadline-Ms": "300"}
    )
    assert r.status_code == 504 and time.monotonic() - t0 < 3
    assert gate.cancelled.wait(2)  # the compression stopped where it next checked
    assert 'lingua_cancelled_total{reason="deadline"} 1' in client.get("/metrics").text
    gate.release.set()
    assert client.post("/v1/compress", json=BODY).status_code == 200  # its slot was freed


@pytest.mark.parametrize("value", ["0", "-5", "soon", "nan", "inf"])
def test_a_bad_deadline_header_is_400(blocked, value):
    client, _, _ = blocked
    r = client.post("/v1/compress", json=BODY, headers={"X-Lingua-Deadline-Ms": value})
    assert r.status_code == 400 and "x-lingua-deadline-ms" in r.json()["error"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_client_that_disconnects_has_its_work_cancelled():
    import uvicorn

    svc = Service("random", methods=[], max_concurrency=1)
    gate = Blocking(svc.engine.compress)
    svc.engine.compress = gate
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(svc), port=port, log_level="error"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not svc.ready and time.monotonic() < deadline:
            time.sleep(0.02)
        body = json.dumps({"texts": ["block"]}).encode()
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(
                b"POST /v1/compress HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
                + f"\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            assert gate.started.wait(5)
        assert gate.cancelled.wait(10)  # the client left: its work stopped
        deadline = time.monotonic() + 10
        while (svc.cancelled["disconnected"] != 1 or svc.admission.running) and (
            time.monotonic() < deadline
        ):
            time.sleep(0.02)
        assert svc.counts[("random", "499")] == 1 and not svc.admission.running
    finally:
        gate.release.set()
        srv.should_exit = True
        thread.join(10)


@pytest.fixture
def guarded():
    svc = Service(
        "random", methods=[], api_key="s3cret", allowed_hosts=LOOPBACK_HOSTS, max_body=2000
    )
    with TestClient(create_app(svc), base_url="http://127.0.0.1:8000") as c:
        yield _ready_auth(c)


def _ready_auth(c: TestClient) -> TestClient:
    return _ready(c)


AUTH = {"Authorization": "Bearer s3cret"}


@pytest.mark.parametrize(
    ("header", "status"),
    [
        ("Bearer s3cret", 200),
        ("bearer s3cret", 200),  # the scheme is case-insensitive (RFC 9110)
        ("BEARER  s3cret ", 200),
        ("s3cret", 401),  # the scheme is required
        ("Basic s3cret", 401),
        ("Bearer wrong", 401),
        (b"Bearer \xff", 401),  # not ASCII
    ],
)
def test_bearer_is_case_insensitive_and_required(guarded, header, status):
    r = guarded.post("/v1/compress", json=BODY, headers={"Authorization": header})
    assert r.status_code == status


@pytest.mark.parametrize("path", ["/metrics", "/openapi.json", "/docs", "/v1/methods"])
def test_every_route_but_health_needs_the_key(guarded, path):
    assert guarded.get(path).status_code == 401
    assert guarded.get(path, headers=AUTH).status_code == 200
    assert guarded.get("/health").status_code == 200


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("127.0.0.1:8000", 200),
        ("localhost", 200),
        ("[::1]:8000", 200),
        ("evil.example:8000", 421),
        ("127.0.0.1.evil.example", 421),
        ("", 421),
    ],
)
def test_host_is_checked_against_the_loopback_names(guarded, host, status):
    r = guarded.post("/v1/compress", json=BODY, headers={**AUTH, "Host": host})
    assert r.status_code == status


@pytest.mark.parametrize(
    ("body", "headers", "status", "message"),
    [
        (b'{"texts": ["a"]}', {"Content-Type": "text/plain"}, 415, "application/json"),
        (b'{"texts": ["a"]}', {}, 415, "application/json"),
        (b'{"texts": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", JSON, 413, "over 2000"),
        (b'{"texts": ["a"], "options": ' + b'{"a": ' * 40 + b"1" + b"}" * 41, JSON, 400, "nested"),
        (b'{"texts": ["a"], "rate": NaN}', JSON, 400, "rate"),
        (b'{"texts": ["a"], "method": "\\ud800"}', JSON, 400, "unknown method"),
    ],
)
def test_hostile_bodies_get_a_clear_4xx(guarded, body, headers, status, message):
    r = guarded.post("/v1/compress", content=body, headers={**AUTH, **headers})
    assert r.status_code == status and message in r.json()["error"]


def test_deep_nesting_is_400_not_500():
    svc = Service("random", methods=[])
    with TestClient(create_app(svc, warmup=False)) as c:
        deep = b'{"texts": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
        r = c.post("/v1/compress", content=deep, headers=JSON)
    assert r.status_code == 400 and "nested too deeply" in r.json()["error"]


def test_an_oversized_chunked_body_is_refused_at_the_limit():
    svc = Service("random", methods=[], max_body=10_000)
    sent = []

    def chunks():
        yield b'{"texts": ["'
        for _ in range(1000):  # 1 MB in all, never all read
            sent.append(1)
            yield b"x" * 1000

    with TestClient(create_app(svc, warmup=False)) as c:
        r = c.post("/v1/compress", content=chunks(), headers=JSON)
    assert r.status_code == 413 and "over 10000 bytes" in r.json()["error"]


def test_metrics_labels_come_from_the_served_methods_only(guarded):
    for name in ["a|b", 'x"}\n1', *[f"junk{i}" for i in range(200)]]:
        r = guarded.post("/v1/compress", json={"texts": ["a"], "method": name}, headers=AUTH)
        assert r.status_code == 400
    text = guarded.get("/metrics", headers=AUTH).text
    assert 'lingua_requests_total{method="unknown",status="400"} 202' in text
    assert "junk" not in text and "a|b" not in text and len(text) < 2000
    for line in text.splitlines():  # every sample line parses as NAME{LABELS} VALUE
        assert line.startswith("#") or float(line.rsplit(" ", 1)[1]) >= 0


def test_a_method_not_served_is_refused_without_loading_it(guarded):
    from lingua_core.models import loaded_models

    before = loaded_models()
    r = guarded.post(
        "/v1/compress", json={"texts": ["a"], "method": "selective_context"}, headers=AUTH
    )
    assert r.status_code == 400 and "not served here; served: random" in r.json()["error"]
    assert loaded_models() == before


def test_a_method_whose_model_cannot_load_says_so_on_health(monkeypatch):
    svc = Service("random", methods=[])

    def broken():
        raise OSError("could not load model 'x': no such folder")

    monkeypatch.setattr(svc.engine, "warmup", broken)
    with TestClient(create_app(svc)) as c:
        deadline = time.monotonic() + 10
        while c.get("/health").json()["status"] == "warming up":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        health = c.get("/health")
        assert health.status_code == 503 and "no such folder" in health.json()["error"]
        r = c.post("/v1/compress", json=BODY)
        assert r.status_code == 503 and "no such folder" in r.json()["error"]
