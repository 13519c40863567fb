"""The first stage for long inputs: chunks, BM25 choice, outcomes mapped back to the inputs."""

from __future__ import annotations

import pytest

from lingua_core.methods._first_stage import cut, merge, plan
from lingua_core.pipeline.contract import TextOutcome
from lingua_core.result import join_spans

TEXT = "Alpha beta. Gamma delta epsilon.\nZeta eta theta iota. " + "w " * 30 + "end."


def test_cut_ends_at_sentences_and_covers_every_word():
    spans = cut(TEXT, 3)
    assert TEXT[spans[0][0] : spans[0][1]] == "Alpha beta. Gamma delta epsilon."
    assert TEXT[spans[1][0] : spans[1][1]] == "Zeta eta theta iota."
    words = [w for s, e in spans for w in TEXT[s:e].split()]
    assert words == TEXT.split()
    assert all(len(TEXT[s:e].split()) <= 6 for s, e in spans)  # run-ons cut between words


def test_plan_keeps_short_inputs_whole_and_picks_bm25_chunks():
    assert plan(["a b c"], "b", limit=10) is None
    texts = ["Cats purr. " * 40, "The treaty was signed in Paris in 1783. " * 3, "Dogs bark. " * 40]
    p = plan(texts, "When was the treaty signed?", limit=20, chunk_words=10)
    assert p is not None and {i for i, _, _ in p.chunks} == {1}
    assert all(texts[i][s:e] == t for (i, s, e), t in zip(p.chunks, p.texts))


def test_merge_maps_spans_back_and_drops_unread_texts():
    texts = ["one two. three four. five six.", "seven eight."]
    p = plan(texts, "three", limit=1, chunk_words=2)
    assert p is not None
    outs = [TextOutcome(t, [(0, len(t))], relevance=1.0) for t in p.texts]
    got = merge(texts, p, outs)
    assert len(got) == 2 and not got[1].spans
    assert got[0].text == join_spans(texts[0], got[0].spans)
    assert "three four." in got[0].text


@pytest.mark.integration
def test_default_reads_only_the_chosen_chunks_of_a_long_text():
    from lingua_core import get_compressor

    filler = " ".join(f"Sentence {i} is about gardening and soil." for i in range(600))
    doc = filler + " The treaty of Paris was signed in 1783. " + filler
    comp = get_compressor("coarse_to_fine", token_counter="words", first_stage_words=300)
    [res] = comp.compress([doc], query="When was the treaty of Paris signed?", target_tokens=40)
    assert "1783" in res.text
    assert res.text == join_spans(doc, res.spans)
    assert res.compressed_tokens <= 46
