"""Out-of-memory recovery: a batch that does not fit is split and retried (injected OOM on CPU)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lingua_core import get_compressor
from lingua_core.models import load_causal_lm, load_token_classifier
from lingua_core.models.batcher import forget_recent
from lingua_core.scorers._batching import is_oom, run_in_batches


def oom_above(model, max_rows, calls):
    real = model.forward

    def forward(*args, **kwargs):
        ids = kwargs.get("input_ids", args[0] if args else None)
        calls.append(ids.shape[0])
        if ids.shape[0] > max_rows:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(*args, **kwargs)

    return forward


@pytest.mark.parametrize("kind", ["selective_context", "llmlingua2", "longllmlingua"])
def test_oom_splits_the_batch_and_gives_the_same_result(
    kind, tiny_llama_dir, tiny_bert_clf_dir, nq20, monkeypatch
):
    def make():  # a fresh compressor each time: scores cached by the first must not hide OOMs
        if kind == "selective_context":
            return get_compressor(kind, model=str(tiny_llama_dir), batch_tokens=4096)
        if kind == "longllmlingua":  # short segments: the batched multi-segment path runs too
            return get_compressor(
                kind, model=str(tiny_llama_dir), batch_tokens=4096, iterative_size=48
            )
        return get_compressor(kind, model=str(tiny_bert_clf_dir), batch_tokens=8192)

    if kind == "llmlingua2":
        target = load_token_classifier(str(tiny_bert_clf_dir)).model
    else:  # the scorers run the base model, then the head
        target = load_causal_lm(str(tiny_llama_dir)).model.base_model
    query = "Who won the first Nobel Prize in Physics?"
    texts = nq20
    if kind == "selective_context":  # batches hold rows of one padded width: make them similar
        texts = [" ".join(p.split()[:12]) for p in nq20]
    expected = make().compress(texts, rate=0.4, query=query)
    loaded = load_token_classifier(str(tiny_bert_clf_dir)) if kind == "llmlingua2" else None
    loaded = loaded or load_causal_lm(str(tiny_llama_dir))
    forget_recent(loaded)  # the batchers' recent results would hide OOMs
    calls: list[int] = []
    monkeypatch.setattr(target, "forward", oom_above(target, 3, calls))
    assert make().compress(texts, rate=0.4, query=query) == expected
    assert max(calls) > 3 and any(n <= 3 for n in calls)


def test_a_single_row_that_does_not_fit_raises_a_clear_error():
    def step(batch):
        raise torch.OutOfMemoryError("CUDA out of memory")

    with pytest.raises(RuntimeError, match="out of memory on a single row of 7 tokens; lower"):
        run_in_batches([np.zeros(7)] * 4, len, 100, step)


def test_other_errors_are_not_swallowed():
    def step(batch):
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        run_in_batches([np.zeros(3)], len, 100, step)
    assert is_oom(RuntimeError("CUDA out of memory. Tried to allocate"))
    assert not is_oom(RuntimeError("shape mismatch"))
