"""The HTTP service and its client: the contract, refusals, auth, and a chain run remotely."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient

from lingua_core import RemoteCompressor, get_compressor
from lingua_core.serve.app import Service, create_app, result_json
from lingua_core.serve.remote import RemoteError

TEXTS = [
    "The Eiffel Tower is a wrought-iron lattice tower in Paris, France.",
    "",
    "It is named after the engineer Gustave Eiffel, whose company built it in 1889.",
]


JSON = {"Content-Type": "application/json"}


def _ready(c: TestClient) -> TestClient:
    deadline = time.monotonic() + 60
    while c.get("/health").status_code != 200:
        assert time.monotonic() < deadline, "the service did not warm up in 60 s"
        time.sleep(0.02)
    return c


@pytest.fixture
def client():
    service = Service("random", methods=["naive"], max_texts=4, max_chars=400)
    with TestClient(create_app(service)) as c:
        yield _ready(c)


def test_compress_returns_exactly_what_the_core_returns_in_input_order(client):
    r = client.post("/v1/compress", json={"texts": TEXTS, "rate": 0.5, "options": {"seed": 3}})
    assert r.status_code == 200
    body = r.json()
    local = get_compressor("random").compress(TEXTS, rate=0.5, seed=3)
    assert body["results"] == [json.loads(json.dumps(result_json(x))) for x in local]
    assert body["method"] == "random"
    assert body["usage"]["original_tokens"] == sum(x.original_tokens for x in local)
    assert body["usage"]["compressed_tokens"] == sum(x.compressed_tokens for x in local)
    named = client.post("/v1/compress", json={"texts": TEXTS, "method": "naive"}).json()
    assert named["method"] == "naive"


def test_methods_health_and_metrics(client):
    assert client.get("/health").json() == {"status": "ok"}
    methods = client.get("/v1/methods").json()
    assert methods["default"] == "random" and list(methods["methods"]) == ["random", "naive"]
    client.post("/v1/compress", json={"texts": ["a b c d"], "rate": 0.5})
    client.post("/v1/compress", content=b"{not json", headers=JSON)
    text = client.get("/metrics").text
    assert 'lingua_requests_total{method="random",status="200"} 1' in text
    assert 'lingua_requests_total{method="unknown",status="400"} 1' in text  # before parsing
    assert "lingua_tokens_in_total 4" in text


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"{not json", 400, "invalid JSON"),
        (b"[1, 2]", 400, "must be a JSON object"),
        (json.dumps({"texts": "one text"}).encode(), 400, "'texts' must be a list"),
        (json.dumps({"texts": ["a"], "ratio": 0.5}).encode(), 400, "unknown fields ['ratio']"),
        (json.dumps({"texts": ["a"], "rate": 1.5}).encode(), 400, "rate must be in (0, 1]"),
        (json.dumps({"texts": [1]}).encode(), 400, "texts[0] must be a str"),
        (
            json.dumps({"texts": ["a"], "options": {"nope": 1}}).encode(),
            400,
            "unknown option 'nope' for method 'random'",
        ),
        (json.dumps({"texts": ["a"], "method": "zip"}).encode(), 400, "unknown method 'zip'"),
        (
            json.dumps({"texts": ["a"], "method": "llmlingua2"}).encode(),
            400,
            "method 'llmlingua2' is not served here; served: random, naive",
        ),
        (json.dumps({"texts": ["a"] * 5}).encode(), 413, "at most 4 per request"),
        (json.dumps({"texts": ["a" * 500]}).encode(), 413, "at most 400"),
    ],
)
def test_every_invalid_request_gets_the_cores_message(client, body, status, message):
    r = client.post("/v1/compress", content=body, headers=JSON)
    assert r.status_code == status
    assert message in r.json()["error"]


def test_an_oversized_body_is_413():
    with TestClient(create_app(Service("random", max_body=100), warmup=False)) as c:
        r = c.post("/v1/compress", json={"texts": ["word " * 50]})
    assert r.status_code == 413 and "over 100 bytes" in r.json()["error"]


def test_a_wrong_or_missing_token_is_401():
    with TestClient(create_app(Service("random", api_key="s3cret"), warmup=False)) as c:
        assert c.post("/v1/compress", json={"texts": ["a"]}).status_code == 401
        bad = {"Authorization": "Bearer nope"}
        assert c.post("/v1/compress", json={"texts": ["a"]}, headers=bad).status_code == 401
        good = {"Authorization": "Bearer s3cret"}
        assert c.post("/v1/compress", json={"texts": ["a"]}, headers=good).status_code == 200


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server():
    import uvicorn

    port = _free_port()
    config = uvicorn.Config(
        create_app(Service("random", methods=["naive"], api_key="k")),
        host="127.0.0.1",
        port=port,
        log_level="error",
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


def test_the_remote_compressor_has_the_core_interface(server):
    remote = RemoteCompressor(server, api_key="k")
    remote.warmup()
    local = get_compressor("random").compress(TEXTS, rate=0.5, seed=2)
    assert remote.compress(TEXTS, rate=0.5, seed=2) == local
    import asyncio

    assert asyncio.run(remote.acompress(TEXTS, rate=0.5, seed=2)) == local
    with pytest.raises(ValueError, match=r"rate must be in \(0, 1\]"):
        remote.compress(TEXTS, rate=2.0)
    with pytest.raises(RemoteError, match="401"):
        RemoteCompressor(server, api_key="wrong").compress(TEXTS)


def test_the_remote_compressor_takes_a_method_per_call(server):
    import asyncio

    remote = RemoteCompressor(server, api_key="k")
    naive = get_compressor("naive").compress(TEXTS, rate=0.5)
    assert remote.compress(TEXTS, rate=0.5, method="naive") == naive
    assert asyncio.run(remote.acompress(TEXTS, rate=0.5, method="naive")) == naive
    assert {r.method for r in remote.compress(TEXTS, rate=0.5)} == {"random"}  # the default
    # a call's method wins over the compressor's; the compressor's over the server's
    fixed = RemoteCompressor(server, api_key="k", method="naive")
    assert fixed.compress(TEXTS, rate=0.5) == naive
    local = get_compressor("random").compress(TEXTS, rate=0.5, seed=5)
    assert fixed.compress(TEXTS, rate=0.5, method="random", seed=5) == local
    with pytest.raises(ValueError, match="method 'llmlingua2' is not served here"):
        remote.compress(TEXTS, method="llmlingua2")
    with pytest.raises(TypeError, match="method must be a str"):
        remote.compress(TEXTS, method=3)


def test_the_remote_compressor_retries_then_says_the_server_is_unreachable():
    remote = RemoteCompressor(f"http://127.0.0.1:{_free_port()}", retries=3, backoff=0.01)
    t0 = time.monotonic()
    with pytest.raises(RemoteError, match="unreachable"):
        remote.compress(["a b"])
    assert time.monotonic() - t0 < 5


def test_a_langchain_chain_runs_unchanged_against_the_server(server):
    from langchain_core.documents import Document

    from langchain_lingua import LinguaCompressor

    docs = [Document(page_content=t, metadata={"i": i}) for i, t in enumerate(TEXTS)]
    options = {"seed": 4}
    local = LinguaCompressor(method="random", rate=0.5, options=options, keep_dropped=True)
    remote = LinguaCompressor(
        endpoint=server, api_key="k", method="random", rate=0.5, options=options, keep_dropped=True
    )
    got = remote.compress_documents(docs, "Who built it?")
    want = local.compress_documents(docs, "Who built it?")
    assert [d.page_content for d in got] == [d.page_content for d in want]
    assert [d.metadata["i"] for d in got] == [0, 1, 2]
    with pytest.raises(ValueError, match="server chooses the model"):
        LinguaCompressor(endpoint=server, model="smollm2")


def test_serve_refuses_a_public_bind_without_a_key(capsys, monkeypatch):
    from lingua_core.cli import main

    monkeypatch.delenv("LINGUA_API_KEY", raising=False)
    assert main(["serve", "--host", "0.0.0.0"]) == 2
    assert "refusing to bind 0.0.0.0 without an API key" in capsys.readouterr().err


def test_elided_clauses_survive_the_round_trip():
    """The default's elisions (``result.elided``) reach a remote client: its results equal the
    local ones, text and marker included."""
    text = (
        "Monday Night Football was, for many long decades since its first season in 1970, the "
        "most watched show on cable television in the United States, and it drew very large "
        "audiences, particularly among male viewers, who made up most of its ratings. It aired "
        "on ABC."
    )
    query = "Monday Night Football male viewers"
    local = get_compressor().compress([text], query=query, rate=0.4)
    assert local[0].elided
    payload = {"results": [json.loads(json.dumps(result_json(x))) for x in local]}
    remote = RemoteCompressor("http://127.0.0.1:1")
    assert remote._results(200, payload, [text]) == local
