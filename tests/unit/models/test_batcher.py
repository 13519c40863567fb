"""Micro-batching: concurrent callers share batches and in-flight rows; failures stay their own."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

from lingua_core import get_compressor
from lingua_core.models.batcher import MicroBatcher, batchers


def _together(n: int, fn):
    barrier = threading.Barrier(n)

    def run(i: int):
        barrier.wait()
        return fn(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def test_a_caller_alone_does_not_wait_for_batch_mates_but_concurrent_callers_do(monkeypatch):
    import lingua_core.models.batcher as batcher_mod

    waits: list[float] = []
    real_sleep = batcher_mod.time.sleep
    monkeypatch.setattr(batcher_mod.time, "sleep", lambda s: waits.append(s) or real_sleep(s))
    gate = threading.Event()

    def compute(rows):
        if "slow" in rows:
            gate.wait(5)
        return [r.upper() for r in rows]

    b = MicroBatcher(compute)
    for i in range(5):  # one caller at a time: every call computes at once
        assert b.score([f"alone{i}"], max_wait_ms=200) == [f"ALONE{i}"]
    assert waits == []
    # A second caller arrives while the first one's batch runs: the model now has callers at
    # once, so a leader waits for batch-mates (and the late caller's row joins the next batch).
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(b.score, ["slow"], max_wait_ms=200)
        while not b._running:
            real_sleep(0.001)
        second = pool.submit(b.score, ["late"], max_wait_ms=200)
        real_sleep(0.05)
        gate.set()
        assert first.result() == ["SLOW"] and second.result() == ["LATE"]
    assert b.score(["after"], max_wait_ms=200) == ["AFTER"]
    assert waits == [0.2]  # the leader after the overlap waited; the first one did not


def test_concurrent_callers_compute_each_row_once_and_share_batches():
    seen: list[tuple[str, ...]] = []
    lock = threading.Lock()

    def compute(rows):
        with lock:
            seen.append(tuple(rows))
        return [r.upper() for r in rows]

    b = MicroBatcher(compute)
    rows = [f"row{i}" for i in range(10)]
    out = _together(32, lambda i: b.score(rows[i % 3 :] + rows[: i % 3], max_wait_ms=50))
    assert all(sorted(o) == sorted(r.upper() for r in rows) for o in out)
    computed = [r for call in seen for r in call]
    assert sorted(computed) == sorted(rows)  # every row once, whoever asked for it
    assert len(seen) < 32 and b.stats["shared"] + b.stats["recent"] > 0


def test_a_failing_row_fails_its_own_request_only():
    def compute(rows):
        if "bad" in rows:
            msg = "out of memory on a single row"
            raise RuntimeError(msg)
        return [len(r) for r in rows]

    b = MicroBatcher(compute)

    def call(i: int):
        try:
            return b.score(["bad", "x"] if i == 0 else [f"good{i}"], max_wait_ms=50)
        except RuntimeError as e:
            return str(e)

    out = _together(8, call)
    assert out[0] == "out of memory on a single row"
    assert out[1:] == [[5]] * 7


def test_a_row_just_finished_for_another_caller_is_not_computed_again():
    calls = []
    b = MicroBatcher(lambda rows: calls.append(list(rows)) or [len(r) for r in rows], keep=2)
    assert b.score(["aa", "b"], max_wait_ms=0) == [2, 1]
    assert b.score(["b", "ccc"], max_wait_ms=0) == [1, 3]
    assert calls == [["aa", "b"], ["ccc"]] and b.stats["recent"] == 1
    b.score(["dddd"], max_wait_ms=0)  # keep=2: "aa" is forgotten first
    b.score(["aa"], max_wait_ms=0)
    assert calls[-1] == ["aa"]


def test_no_wait_still_dedupes_identical_rows_in_one_call():
    calls = []
    b = MicroBatcher(lambda rows: calls.append(list(rows)) or [1] * len(rows))
    assert b.score(["a", "a", "b"], max_wait_ms=0) == [1, 1, 1]
    assert calls == [["a", "b"]]


@pytest.mark.parametrize("max_wait_ms", [0, 5])
def test_32_concurrent_calls_on_10_passages_score_each_passage_once(
    tiny_llama_dir, nq20, max_wait_ms
):
    """Each passage fits one window: 10 rows in all, however the 32 calls interleave (without
    sharing in-flight rows, the calls that miss the cache together would each score theirs)."""
    passages = nq20[:10]
    opts = {"model": str(tiny_llama_dir), "unit": "token", "max_wait_ms": max_wait_ms}
    alone = [
        get_compressor("selective_context", **opts).compress([p], rate=0.5)[0] for p in passages
    ]
    shared = get_compressor("selective_context", **opts)
    # other tests may have left batchers of other widths on the shared tiny model
    width = shared._scorer(shared.options).batch_tokens
    batcher = batchers(shared._loaded())[f"lm-nll:{width}"]
    batcher.forget()  # the calls made alone left their rows' results at hand
    before = dict(batcher.stats)
    got = _together(32, lambda i: shared.compress([passages[i % 10]], rate=0.5)[0])
    assert batcher.stats["rows"] - before["rows"] == 10  # each passage's row through the model once
    assert got == [alone[i % 10] for i in range(32)]  # the same results as calls made alone


def _batcher(loaded: Callable[[], Any], warm: Callable[[str], Any]) -> MicroBatcher:
    """The batcher that ``warm`` computes a new text's rows on (other tests may have left
    batchers of other widths on the same shared model)."""
    before = {k: b.stats["rows"] for k, b in batchers(loaded()).items()}
    warm(f"warm the batcher up {uuid.uuid4()}")
    (batcher,) = [b for k, b in batchers(loaded()).items() if b.stats["rows"] > before.get(k, 0)]
    return batcher


def test_llmlingua2_concurrent_calls_run_each_chunk_once(tiny_bert_clf_dir, nq20):
    """The token classifier's chunks go through its batcher: 32 calls over 10 passages run 10
    chunks, with the results of calls made alone."""
    passages = nq20[:10]
    opts = {"model": str(tiny_bert_clf_dir), "max_wait_ms": 5}
    alone = [get_compressor("llmlingua2", **opts).compress([p], rate=0.5)[0] for p in passages]
    shared = get_compressor("llmlingua2", **opts)
    batcher = _batcher(shared._loaded, lambda t: shared.compress([t], rate=0.5))
    batcher.forget()
    before = dict(batcher.stats)
    got = _together(32, lambda i: shared.compress([passages[i % 10]], rate=0.5)[0])
    assert batcher.stats["rows"] - before["rows"] == 10
    assert got == [alone[i % 10] for i in range(32)]


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_encoder_concurrent_calls_embed_each_text_once_with_the_same_bits(nq20, dtype):
    """The sentence encoder (the default's) embeds a passage shared by concurrent calls once,
    and a vector does not depend on its batch-mates, in bf16 too (rows padded to a multiple of
    8 and batched by padded length): concurrent results are bit-identical to calls made alone."""
    from lingua_core.scorers.embed import Embedder

    passages = nq20[:10]
    solo = Embedder(dtype=dtype, cache_size=0, max_wait_ms=0)
    alone = np.stack([solo.embed([p])[0] for p in passages])
    np.testing.assert_array_equal(solo.embed(nq20)[:10], alone)  # batched with 10 others
    shared = Embedder(dtype=dtype, cache_size=0, max_wait_ms=5)
    batcher = _batcher(shared.loaded, lambda t: shared.embed([t]))
    batcher.forget()
    before = dict(batcher.stats)
    got = _together(16, lambda i: shared.embed([passages[i % 10]])[0])
    assert batcher.stats["rows"] - before["rows"] == 10
    for i, v in enumerate(got):
        np.testing.assert_array_equal(v, alone[i % 10])


def test_embedding_does_not_truncate_other_threads_token_counts():
    """The encoder's truncation must not leak into a concurrent count on the same tokenizer
    (the Rust tokenizer's truncation is shared state: turning it on truncated 204 of 3,000
    concurrent counts before the embedder cut rows itself)."""
    from lingua_core.pipeline.tokens import HFTokenCounter
    from lingua_core.scorers.embed import Embedder

    embedder = Embedder(max_length=16, cache_size=0, max_wait_ms=0)
    tok = embedder.loaded().tokenizer
    counter = HFTokenCounter(tok)
    texts = ["word " * 300, "another long text " * 60]
    want = counter.count(texts)
    assert min(want) > 16
    embedder.embed(texts)
    assert tok.backend_tokenizer.truncation is None  # the shared setting is left alone
    stop = threading.Event()

    def embed_forever() -> None:
        while not stop.is_set():
            embedder.embed(texts)

    worker = threading.Thread(target=embed_forever)
    worker.start()
    try:
        wrong = sum(counter.count(texts) != want for _ in range(300))
    finally:
        stop.set()
        worker.join()
    assert wrong == 0
    from transformers import AutoTokenizer

    from lingua_core.scorers.embed import _truncated

    own = AutoTokenizer.from_pretrained(embedder.loaded().source)  # truncation as HF does it
    ref = own(texts, truncation=True, max_length=16)["input_ids"]
    assert _truncated(tok, texts, 16) == [tuple(r) for r in ref]


def test_a_cancelled_caller_withdraws_its_rows_and_others_still_get_theirs():
    """A call cancelled while its rows wait (its client left) raises Cancelled, its rows that
    nobody else wants are never computed, and a row another caller shares still is."""
    from lingua_core.pipeline.cancel import Cancelled, CancelToken, cancel_scope

    computed: list[str] = []
    gate = threading.Event()

    def compute(rows):
        if "slow" in rows:
            gate.wait(5)
        computed.extend(rows)
        return [r.upper() for r in rows]

    b = MicroBatcher(compute)
    token = CancelToken()
    with ThreadPoolExecutor(3) as pool:
        first = pool.submit(b.score, ["slow"], max_wait_ms=0)
        while not b._running:
            time.sleep(0.001)

        def cancelled_call():
            with cancel_scope(token):
                return b.score(["only-mine", "shared"], max_wait_ms=0)

        doomed = pool.submit(cancelled_call)
        other = pool.submit(b.score, ["shared"], max_wait_ms=0)
        while b._wanted.get("shared", 0) < 2:
            time.sleep(0.001)
        token.cancel("client disconnected")
        with pytest.raises(Cancelled, match="client disconnected"):
            doomed.result(5)
        gate.set()
        assert first.result(5) == ["SLOW"] and other.result(5) == ["SHARED"]
    assert "only-mine" not in computed and computed.count("shared") == 1
    assert b.stats["withdrawn"] == 1


def test_a_cancelled_leader_hands_the_batch_to_a_waiting_caller():
    """The leader's call is cancelled while it computes: after the running chunk it leaves, and
    a caller still waiting takes over the rows that remain (no one waits for ever)."""
    from lingua_core.pipeline.cancel import Cancelled, CancelToken, cancel_scope

    gate = threading.Event()
    started = threading.Event()

    def compute(rows):
        if "lead" in rows:
            started.set()
            gate.wait(5)
        return [r.upper() for r in rows]

    b = MicroBatcher(compute, max_rows=1)
    token = CancelToken()

    def leader():
        with cancel_scope(token):
            return b.score(["lead", "lead2"], max_wait_ms=0)

    with ThreadPoolExecutor(2) as pool:
        lead = pool.submit(leader)
        started.wait(5)
        follower = pool.submit(b.score, ["late"], max_wait_ms=0)
        while "late" not in b._pending:
            time.sleep(0.001)
        token.cancel()
        gate.set()
        with pytest.raises(Cancelled):
            lead.result(5)
        assert follower.result(5) == ["LATE"]
    assert not b._pending and not b._leader


def test_a_compute_that_returns_too_few_results_fails_its_callers_instead_of_hanging():
    b = MicroBatcher(lambda rows: [1] * (len(rows) - 1))
    with pytest.raises(RuntimeError, match=r"got no result|0 results for 1 rows"):
        b.score(["a", "b"], max_wait_ms=0)
    assert not b._pending and not b._running and not b._leader


@pytest.mark.parametrize("trial", range(20))
def test_cold_concurrent_first_calls_all_finish_before_a_deadline(trial):
    """Many first calls on a fresh batcher at once (a cold server under a few clients), some
    sharing rows, some failing, some cancelled: every call returns or raises within 10 s."""
    import random

    from lingua_core.pipeline.cancel import Cancelled, CancelToken, cancel_scope

    rng = random.Random(trial)

    def compute(rows):
        time.sleep(rng.random() * 0.01)
        if "bad" in rows:
            raise RuntimeError("bad row")
        return [r.upper() for r in rows]

    b = MicroBatcher(compute, max_rows=rng.choice([1, 3, 256]))
    tokens = [CancelToken() for _ in range(12)]

    def call(i: int):
        rows = [f"r{(i + k) % 7}" for k in range(rng.randint(1, 5))] + (["bad"] if i == 3 else [])
        with cancel_scope(tokens[i]):
            try:
                return b.score(rows, max_wait_ms=rng.choice([0, 2]))
            except (Cancelled, RuntimeError) as e:
                return type(e).__name__

    with ThreadPoolExecutor(12) as pool:
        futs = [pool.submit(call, i) for i in range(12)]
        time.sleep(rng.random() * 0.01)
        for i in (5, 7):
            tokens[i].cancel()
        out = [f.result(10) for f in futs]
    assert out[3] == "RuntimeError"
    assert all(isinstance(o, list) or i in (3, 5, 7) for i, o in enumerate(out))
    assert not b._pending and not b._running and not b._leader
