"""Bounded resources, the CI version of ``benchmarks/bounded_resources.py`` (tiny models).

A 20,000-character document (the bundled NQ passages) is compressed with a small
``batch_tokens`` cap, recording the shape of every forward through the model's body. Asserted,
deterministically (shapes, not timings or RSS):

- (a) no forward holds more padded positions (rows x padded length) than the cap, and the
  document needed more than one batch (the cap binds);
- (b) the positions forwarded for the 20,000-character document are a linear multiple of those
  for its first 2,000 characters, not a quadratic one;
- (c) what one forward holds does not grow with the document: no row attends to more than two
  model windows of keys (one block, plus the kept tokens the iterative methods re-run), and the
  causal LM's vocabulary projection never runs on more than 1,024 positions at once.
"""

from __future__ import annotations

import pytest

from lingua_core import get_compressor
from lingua_core.models import load_causal_lm, load_token_classifier
from lingua_core.result import join_spans

CAP = 2048  # padded positions per forward; well below what 20,000 characters need
SMALL, LARGE = 2_000, 20_000
QUERY = "Who won the first Nobel Prize in Physics?"
KINDS = ("selective_context", "llmlingua", "longllmlingua", "llmlingua2")
#: Most positions whose logits exist at once (CausalLMScorer.head_chunk): on SmolLM2's 49,152-token
#: vocabulary, 192 MiB of fp32 logits, the largest tensor of a call at the CPU default cap.
HEAD_CHUNK = 1024


def document(size: int) -> str:
    """The bundled NQ passages, joined by blank lines, cut at the last space before ``size``."""
    from lingua_demo import load_corpus

    rows = load_corpus()
    text = "\n\n".join(f"{r['title']}\n{r['text']}" for r in rows)
    assert len(text) > size
    return text[: text.rfind(" ", 0, size + 1)]


def _setup(kind: str, llama_dir, bert_dir):
    """A compressor factory (fresh: no cached scores), the module whose forward to record, and
    the module whose forward is the vocabulary projection (``None`` for the classifier)."""
    if kind == "llmlingua2":
        model = load_token_classifier(str(bert_dir)).model
        return lambda: get_compressor(kind, model=str(bert_dir), batch_tokens=CAP), model, None
    loaded = load_causal_lm(str(llama_dir))
    body, head = loaded.model.base_model, loaded.model.get_output_embeddings()
    return lambda: get_compressor(kind, model=str(llama_dir), batch_tokens=CAP), body, head


def _compress(make, body, head, text: str, monkeypatch):
    """Compress ``text`` on a fresh compressor; the shapes of every body and head forward."""
    body_calls: list[tuple[int, int, int]] = []  # (rows, padded length, keys per row)
    head_calls: list[int] = []  # positions projected to the vocabulary at once

    real_body = body.forward

    def record_body(*args, **kwargs):
        ids = kwargs.get("input_ids", args[0] if args else None)
        mask = kwargs.get("attention_mask")
        keys = mask.shape[-1] if mask is not None else ids.shape[1]
        body_calls.append((int(ids.shape[0]), int(ids.shape[1]), int(keys)))
        return real_body(*args, **kwargs)

    comp = make()
    with monkeypatch.context() as m:
        m.setattr(body, "forward", record_body)
        if head is not None:
            real_head = head.forward

            def record_head(x):
                head_calls.append(int(x.numel() // x.shape[-1]))
                return real_head(x)

            m.setattr(head, "forward", record_head)
        results = comp.compress([text], rate=0.5, query=QUERY)
    return results, body_calls, head_calls


@pytest.mark.parametrize("kind", KINDS)
def test_memory_is_capped_and_cost_is_linear(kind, tiny_llama_dir, tiny_bert_clf_dir, monkeypatch):
    make, body, head = _setup(kind, tiny_llama_dir, tiny_bert_clf_dir)
    make().compress(["A short warm-up text. It loads the model."], rate=0.5, query=QUERY)
    window = int(body.config.max_position_embeddings)
    small, large = document(SMALL), document(LARGE)

    res_small, calls_small, _ = _compress(make, body, head, small, monkeypatch)
    res_large, calls_large, heads = _compress(make, body, head, large, monkeypatch)

    # Correct results: one per input, never longer than the input, built from its pieces.
    for res, text in ((res_small, small), (res_large, large)):
        assert len(res) == 1
        r = res[0]
        assert r.original_text == text
        assert 0 < r.compressed_tokens <= r.original_tokens
        assert r.text == join_spans(text, r.spans, r.elided)
    assert 0.3 < res_large[0].rate < 0.7

    # (a) Every padded batch within the cap; the large document needed several batches.
    positions_small = sum(rows * width for rows, width, _ in calls_small)
    positions_large = sum(rows * width for rows, width, _ in calls_large)
    assert max(rows * width for rows, width, _ in calls_large) <= CAP
    assert positions_large > 2 * CAP

    # (b) Linear: 10x the characters costs about 10x the positions. The band allows fixed
    # per-call and per-window costs (Selective Context re-feeds 128 tokens of context into every
    # later 511-token window, which the small document, one window, never pays; LongLLMLingua's
    # small document leaves a one-token block padded in a batch); a cost quadratic in the
    # document would be about 100x.
    ratio = positions_large / positions_small
    assert 7 <= ratio <= 14, (positions_small, positions_large)

    # (c) A forward's size does not grow with the document: keys per row stay within one block
    # plus its re-run kept tokens, and logits are computed head_chunk positions at a time.
    assert max(keys for _, _, keys in calls_large) <= 2 * window
    if head is not None:
        assert heads and max(heads) <= HEAD_CHUNK


def test_the_lru_keeps_to_its_weight_bound():
    from lingua_core.models._lru import LRU

    lru = LRU(100, max_weight=10, weigh=lambda k, v: len(v))
    for i in range(20):
        lru[i] = "abc"
    assert len(lru) == 3 and lru.weight == 9 and list(lru) == [17, 18, 19]
    lru[19] = "abcdefgh"  # replacing an entry re-weighs it
    assert lru.weight == 8 and list(lru) == [19]
    lru["huge"] = "x" * 11  # heavier than the bound alone: not kept
    assert "huge" not in lru and lru.weight == 8
    del lru[19]
    assert lru.weight == 0 and len(lru) == 0


def test_the_embedder_call_cache_is_bounded_in_bytes_when_every_call_is_new():
    """A server whose requests all ask a new question makes one cache entry per call: the
    cache keeps to its byte bound, whatever the count bound."""
    from lingua_core.scorers.embed import Embedder

    emb = Embedder(cache_size=10_000, cache_bytes=200_000, max_wait_ms=0)
    texts = [f"passage number {i} about a topic" for i in range(20)]
    for q in range(40):
        emb.embed([*texts, f"question {q}?"])
    assert 0 < emb._cache.weight <= 200_000 and len(emb._cache) < 40
