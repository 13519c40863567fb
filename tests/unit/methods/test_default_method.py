"""Issue 13: the default method (coarse_to_fine), the embedding baselines, fusion, rate='auto'.

These run the embedded MiniLM (22M parameters, a fraction of a second per call on a CPU): the
baselines and the default are defined by that real encoder.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from lingua_core import DEFAULT_METHOD, get_compressor, join_results
from lingua_core.result import join_spans

QUESTION = "Who directed the 1959 film Ben-Hur?"
DOCS = [
    "Photosynthesis\nPhotosynthesis converts light energy into chemical energy. Plants, algae "
    "and many bacteria use it.",
    "",
    "Ben-Hur (1959 film)\nBen-Hur is a 1959 American epic historical drama film. It was directed "
    "by William Wyler and produced by Sam Zimbalist. It stars Charlton Heston.",
    "Eiffel Tower\nThe Eiffel Tower is a wrought-iron lattice tower in Paris. It is named after "
    "the engineer Gustave Eiffel.",
    "Volcano\nA volcano is a rupture in the crust of a planetary-mass object. Lava and gases "
    "escape from it.",
]


@pytest.fixture(scope="module")
def c2f():
    return get_compressor("coarse_to_fine", token_counter="words")


def _kept(res) -> str:
    return join_results(res)


def test_default_method_is_coarse_to_fine():
    assert DEFAULT_METHOD == "coarse_to_fine"
    assert get_compressor().method == "coarse_to_fine"
    assert get_compressor("default").method == "coarse_to_fine"


@pytest.mark.parametrize(
    "method", ["coarse_to_fine", "embeddings_filter", "sentence_embeddings", "bm25"]
)
def test_contract_one_result_per_input_in_order(method):
    comp = get_compressor(method, token_counter="words")
    res = comp.compress(DOCS, query=QUESTION, rate=0.4)
    assert len(res) == len(DOCS)
    for r, d in zip(res, DOCS):
        assert r.original_text == d
        assert r.text == join_spans(d, r.spans, r.elided)
        assert r.dropped == (not r.spans and bool(d.strip()))
    assert res[1].text == "" and not res[1].dropped  # blank text unchanged
    assert "William Wyler" in _kept(res)
    kept = sum(r.compressed_tokens for r in res)
    total = sum(r.original_tokens for r in res)
    assert kept <= 0.4 * total * 1.15 + 1
    if method != "sentence_embeddings":  # it keeps short titles of every text
        assert any(r.dropped for r in res)  # irrelevant texts are dropped, and say so
    if method != "sentence_embeddings":  # it does not rank texts
        ranked = sorted((r.order, i) for i, r in enumerate(res) if r.order is not None)
        assert ranked[0][1] == 2  # the relevant text goes first in the prompt


def test_embeddings_filter_langchain_rules():
    comp = get_compressor("embeddings_filter")
    res = comp.compress(DOCS, query=QUESTION, k=1)
    assert [i for i, r in enumerate(res) if r.text] == [2]
    assert res[2].text == DOCS[2]  # whole documents
    res = comp.compress(DOCS, query=QUESTION, similarity_threshold=0.99)
    assert all(r.dropped for i, r in enumerate(res) if DOCS[i].strip())
    res = comp.compress(DOCS, query=QUESTION, similarity_threshold=-1.0)
    assert all(r.text == d for r, d in zip(res, DOCS))


def test_sentence_embeddings_llamaindex_rules():
    comp = get_compressor("sentence_embeddings")
    res = comp.compress(DOCS, query=QUESTION, percentile_cutoff=0.5)
    # each text keeps its best half of sentences (LlamaIndex applies the cutoff per node)
    from lingua_core.pipeline.text import sentence_units

    kept = [len(sentence_units(r.text)) for r in res]
    assert kept == [1, 0, 2, 1, 1]  # of 3, 0, 4, 3, 3 sentences
    res = comp.compress(DOCS, query=QUESTION, threshold_cutoff=0.99)
    assert all(not r.text for r in res)


def test_bm25_method_ranks_by_terms():
    res = get_compressor("bm25").compress(DOCS, query="Eiffel tower engineer", rate=0.3)
    assert [i for i, r in enumerate(res) if r.text] == [3]
    assert res[3].relevance is not None and res[3].relevance > res[0].relevance


def test_fusion_changes_results(c2f):
    texts = [
        f"Doc {i}\n" + ". ".join(f"Fact {i}.{j} about film {j * i}" for j in range(6)) + "."
        for i in range(6)
    ]
    texts.append(DOCS[2])
    z = c2f.compress(texts, query=QUESTION, rate=0.3, fusion="z")
    rrf = c2f.compress(texts, query=QUESTION, rate=0.3, fusion="rrf")
    assert [r.relevance for r in z] != [r.relevance for r in rrf]
    with pytest.raises(ValueError, match="valid: 'z', 'rrf'"):
        c2f.compress(texts, query=QUESTION, fusion="max")


def test_doc_weight_and_title_context_change_scores(c2f):
    a = c2f.compress(DOCS, query="It stars Charlton Heston", rate=0.2, title_context=True)
    b = c2f.compress(DOCS, query="It stars Charlton Heston", rate=0.2, title_context=False)
    assert [r.relevance for r in a] != [r.relevance for r in b]


def test_rate_auto_adapts_and_reports(c2f):
    fixed = c2f.compress(DOCS, query=QUESTION, rate=0.5)
    auto = c2f.compress(DOCS, query=QUESTION, rate="auto")
    assert [r.text for r in auto] != [r.text for r in fixed]
    assert "William Wyler" in _kept(auto)
    kept = sum(r.compressed_tokens for r in auto) / sum(r.original_tokens for r in auto)
    assert 0 < kept < 0.5
    strict = c2f.compress(DOCS, query=QUESTION, rate="auto", auto_threshold=1.0)
    loose = c2f.compress(DOCS, query=QUESTION, rate="auto", auto_threshold=0.0)
    assert sum(r.compressed_tokens for r in strict) < sum(r.compressed_tokens for r in loose)
    assert all(r.text == d for r, d in zip(loose, DOCS))  # 0 keeps everything
    assert sum(r.dropped for r in strict) >= 3  # texts with nothing relevant come back dropped


def test_rate_auto_bad_input(c2f):
    with pytest.raises(ValueError, match="target_tokens"):
        c2f.compress(DOCS, query=QUESTION, rate="auto", target_tokens=20)
    with pytest.raises(ValueError, match="supported by: coarse_to_fine"):
        get_compressor("random").compress(DOCS, rate="auto")
    with pytest.raises(ValueError, match="rate must be"):
        c2f.compress(DOCS, query=QUESTION, rate="half")


def test_no_query_keeps_leading_sentences_quietly_and_cheaply(monkeypatch, caplog):
    """Issue 25: no model behind the no-query path, one warning per compressor, per-text rates
    met, titles kept with their text, a text's first sentences kept first."""
    import lingua_core.models as models

    def no_model(*args, **kwargs):
        raise AssertionError("the no-query path must not load a model")

    monkeypatch.setattr(models, "load_causal_lm", no_model)
    monkeypatch.setattr("lingua_core.methods._lm.load_causal_lm", no_model)
    comp = get_compressor("coarse_to_fine", token_counter="words")
    monkeypatch.setattr(comp, "embedder", no_model)
    with caplog.at_level(logging.WARNING):
        res = comp.compress(DOCS, rate=0.5)
        again = comp.compress(DOCS, rate=0.5)
        comp.compress(DOCS[:2], rate="auto")
    assert caplog.text.count("no query given") == 1
    assert again == res and len(res) == len(DOCS)
    assert all(r.method == "coarse_to_fine" and not r.dropped for r in res)
    for r in res:
        if r.original_text.strip():
            assert r.text.strip()
            assert r.compressed_tokens <= 0.5 * r.original_tokens + 12  # its own rate (a unit)
    assert (
        res[2].text == "Ben-Hur (1959 film)\nBen-Hur is a 1959 American epic historical drama film."
    )
    total = comp.compress(DOCS, target_tokens=20)
    assert sum(r.compressed_tokens for r in total) <= 20 + 12
    assert total[0].text == (
        "Photosynthesis\nPhotosynthesis converts light energy into chemical energy."
    )  # every text's first sentence comes before any second one
    assert comp.no_query_note == "no query: each text's leading sentences"


def test_multi_hop_rescoring_changes_scores(c2f):
    hop = [
        "Gone with the Wind (film)\nGone with the Wind is a 1939 film produced by David O. "
        "Selznick.",
        "David O. Selznick\nSelznick was born in Pittsburgh, Pennsylvania, in 1902.",
        "Cheese\nCheese is a dairy product made from milk.",
        "Rivers\nA river is a natural flowing watercourse.",
    ]
    q = "Where was the producer of Gone with the Wind born?"
    on = c2f.compress(hop, query=q, rate=0.7, multi_hop=True)
    off = c2f.compress(hop, query=q, rate=0.7, multi_hop=False)
    # the second hop's text rises once the first hop's sentences join the query
    assert on[1].relevance > off[1].relevance
    assert on[0].relevance == off[0].relevance
    assert "Pittsburgh" in _kept(on)


def test_unknown_options_name_valid_choices(c2f):
    with pytest.raises(ValueError, match="valid options"):
        c2f.compress(DOCS, query=QUESTION, colour="red")
    with pytest.raises(ValueError, match="'sort', 'original'"):
        c2f.compress(DOCS, query=QUESTION, reorder="random")


def test_budget_in_tokens_and_target_tokens(c2f):
    res = c2f.compress(DOCS, query=QUESTION, target_tokens=40)
    assert sum(r.compressed_tokens for r in res) <= 40
    assert "William Wyler" in _kept(res)


# ------------------------------------------------------------------ the embedding scorer


def test_embedder_caches_and_batches_by_length():
    from lingua_core.scorers.embed import Embedder

    emb = Embedder(batch_tokens=64)
    model = emb.loaded().model
    shapes = []
    handle = model.register_forward_pre_hook(
        lambda _m, _a, kw: shapes.append(tuple(kw["input_ids"].shape)), with_kwargs=True
    )
    try:
        texts = ["a short one", "a much longer sentence " * 6, "mid length text here", "x"]
        first = emb.embed([*texts, texts[0]])
        assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-4)
        assert np.allclose(first[0], first[-1])  # repeated text: same vector
        rows = sum(s[0] for s in shapes)
        assert rows == 4  # repeated text embedded once
        lengths = [s[1] for s in shapes]
        assert lengths == sorted(lengths, reverse=True)  # longest first, padded per batch
        assert all(s[0] * s[1] <= max(64, s[1]) for s in shapes)
        shapes.clear()
        again = emb.embed([*texts, texts[0]])
        assert shapes == []  # a repeated call: all from the cache
        assert np.array_equal(again, first)
        part = emb.embed(texts[:2])  # another call: its texts' rows were just computed
        assert shapes == [] and np.array_equal(part, first[:2])  # batch-invariant, so reused
        emb.embed(["a text not seen before"])
        assert shapes
    finally:
        handle.remove()


def test_pooling_read_from_sentence_transformers_config(tmp_path):
    from lingua_core.scorers.embed import read_pooling

    assert read_pooling(str(tmp_path)) == "mean"
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text(
        json.dumps({"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False})
    )
    assert read_pooling(str(tmp_path)) == "cls"
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode": "weird"}))
    with pytest.raises(ValueError, match="valid: mean, cls"):
        read_pooling(str(tmp_path))


def test_non_embedding_model_is_refused(tiny_llama_dir):
    comp = get_compressor("embeddings_filter", model=str(tiny_llama_dir))
    with pytest.raises(ValueError, match=r"not a sentence-embedding encoder.*LlamaForCausalLM"):
        comp.compress(DOCS, query=QUESTION, rate=0.5)


def test_bf16_on_slow_cpu_warns(monkeypatch, caplog):
    from lingua_core import models

    monkeypatch.setattr(models.devices, "cpu_bf16_speedup", lambda: 0.05)
    assert models.fast_dtype("cpu") == "float32"
    with caplog.at_level(logging.WARNING):
        models.warn_slow_bf16(models.resolve_dtype("bfloat16", "cpu"), "cpu")
    assert "without fast bf16" in caplog.text


# ------------------------------------------------------------------ LongLLMLingua ranking


def test_longllmlingua_embedding_and_fused_ranking(tiny_llama_dir):
    long = get_compressor("longllmlingua", model=str(tiny_llama_dir), token_counter="words")
    texts = [d for d in DOCS if d]
    emb = long.compress(texts, query=QUESTION, rate=0.4, rank_method="embedding")
    alias = long.compress(texts, query=QUESTION, rate=0.4, rank_method="sentbert")
    assert [r.relevance for r in emb] == [r.relevance for r in alias]
    assert int(np.argmax([r.relevance for r in emb])) == 1  # the Ben-Hur text
    fused = long.compress(
        texts, query=QUESTION, rate=0.4, rank_method="fused", rank_signals=["embedding", "bm25"]
    )
    rrf = long.compress(
        texts,
        query=QUESTION,
        rate=0.4,
        rank_method="fused",
        rank_signals=["embedding", "bm25"],
        fusion="rrf",
    )
    assert [r.relevance for r in fused] != [r.relevance for r in rrf]
    with pytest.raises(ValueError, match="rank_signals"):
        long.compress(texts, query=QUESTION, rank_method="fused", rank_signals=["gzip"])
    with pytest.raises(ValueError, match="sentbert"):
        long.compress(texts, query=QUESTION, rank_method="tfidf")


def test_fuse_and_signals_bad_input():
    from lingua_core.scorers.rank import check_signals, fuse

    a, b = np.array([3.0, 1.0, 2.0]), np.array([0.0, 5.0, 1.0])
    assert np.argmax(fuse([a, b], [1.0, 0.0])) == 0
    assert np.argmax(fuse([a, b], [0.0, 1.0], "rrf")) == 1
    with pytest.raises(ValueError, match="valid: z, rrf"):
        fuse([a], how="mean")
    with pytest.raises(ValueError, match="valid: bm25, embedding, lm"):
        check_signals(["bm25", "colbert"])


# ------------------------------------------------------------------ multi-hop loaders


def test_multihop_loaders():
    from lingua_core.eval.data import hotpotqa, musique
    from lingua_core.eval.metrics import answer_in
    from tests.conftest import SHARED_DATA

    hp_path = SHARED_DATA / "hotpotqa_distractor.jsonl.gz"
    mq_path = SHARED_DATA / "musique_ans_train_sample.jsonl.gz"
    if not hp_path.is_file() or not mq_path.is_file():
        pytest.skip("shared data not found")
    hp = hotpotqa(hp_path, range(50, 100))
    assert len(hp) == 45  # 5 yes/no questions left out
    assert len(hotpotqa(hp_path, range(50, 100), yes_no=True)) == 50
    assert all(len(e.contexts) == 10 and e.id.startswith("hotpotqa-") for e in hp)
    assert all(len(e.meta["supporting"]) == 2 for e in hp)
    assert all(answer_in(e.contexts[e.gold], e.answers) for e in hp if e.gold is not None)
    mq = musique(mq_path, range(50))
    assert len(mq) == 50 and all(len(e.contexts) == 20 for e in mq)
    assert all(e.gold in e.meta["supporting"] for e in mq)
    with pytest.raises(ValueError, match="out of range: the file has 100 records"):
        musique(mq_path, [100])


def test_clauses_titles_and_hop_options_change_results(c2f):
    from lingua_core.pipeline.passages import bridge_names, split_long
    from lingua_core.pipeline.text import sentence_units

    long_doc = (
        "Ben-Hur (1959 film)\nBen-Hur is a 1959 American epic film, directed by William Wyler, "
        "produced by Sam Zimbalist, and starring Charlton Heston as the title character."
    )
    units = split_long(long_doc, sentence_units(long_doc), 8)
    assert units.texts(long_doc)[1:] == [
        "Ben-Hur is a 1959 American epic film,",
        "directed by William Wyler,",
        "produced by Sam Zimbalist,",
        "and starring Charlton Heston as the title character.",
    ]
    docs = [long_doc, *DOCS[3:]]
    clause = c2f.compress(docs, query=QUESTION, target_tokens=20, max_unit_words=8)
    whole = c2f.compress(docs, query=QUESTION, target_tokens=20, max_unit_words=None)
    assert "directed by William Wyler" in clause[0].text
    assert clause[0].text != whole[0].text
    with_titles = c2f.compress(docs, query=QUESTION, rate=0.3)
    no_titles = c2f.compress(docs, query=QUESTION, rate=0.3, keep_titles=False)
    assert with_titles[0].text.startswith("Ben-Hur (1959 film)")
    assert [r.text for r in with_titles] != [r.text for r in no_titles]
    hop = [
        "Gone with the Wind (film)\nGone with the Wind is a 1939 film produced by David O. "
        "Selznick.",
        "David O. Selznick\nSelznick was born in Pittsburgh, Pennsylvania, in 1902.",
        "Cheese\nCheese is a dairy product made from milk.",
    ]
    q = "Where was the producer of Gone with the Wind born?"
    assert bridge_names([hop[0].split("\n")[1]], q) == ["1939", "David O. Selznick"]
    base = c2f.compress(hop, query=q, rate=0.7)
    for opt in ({"hop_bm25": "bridge"}, {"hop_weight": 0.0}, {"hop_sentences": 1}):
        assert [r.relevance for r in c2f.compress(hop, query=q, rate=0.7, **opt)] != [
            r.relevance for r in base
        ], opt


BRIDGE_DOCS = [
    "Transfiguration of Vincent\nTransfiguration of Vincent is the third studio album by M. Ward. "
    "It was released in 2003 on Merge Records. The title alludes to an album by John Fahey.",
    "Jenny Lewis\nJenny Lewis is a singer-songwriter from Las Vegas, Nevada. She fronted the band "
    "Rilo Kiley.",
    "M. Ward (musician)\nMatthew Stephen Ward is a guitarist and producer. He was born in 1973 and "
    "lives in Portland, Oregon. He is one half of the duo She & Him.",
    "Conor Oberst\nConor Oberst is a singer-songwriter from Omaha, Nebraska, best known for Bright "
    "Eyes.",
    "Merge Records\nMerge Records is an independent record label in Durham, North Carolina.",
]
BRIDGE_Q = (
    "Transfiguration of Vincent is the third studio album by a singer-songwriter from what state?"
)


def test_bridge_texts_are_the_titles_the_first_hop_names():
    from lingua_core.pipeline.passages import bridge_texts

    titles = [d.split("\n")[0] for d in BRIDGE_DOCS]
    found = [BRIDGE_DOCS[0].split("\n")[1]]
    # "M. Ward (musician)" is named as "M. Ward"; Merge Records too; the others are not named
    assert bridge_texts(titles, found, {0}, BRIDGE_Q) == [2, 4]
    # a text the best sentences come from, or a title the question names, is no bridge
    assert bridge_texts(titles, found, {0, 2}, BRIDGE_Q) == [4]
    assert bridge_texts(titles, found, {0}, f"{BRIDGE_Q} (Merge Records)") == [2]
    # whole words only, and texts without a title are skipped
    assert bridge_texts(["Ward", None, "On"], ["Edward Norton went online."], set(), "q") == []


def test_bridge_weight_keeps_the_second_hop(c2f):
    on = c2f.compress(BRIDGE_DOCS, query=BRIDGE_Q, rate=0.4)
    off = c2f.compress(BRIDGE_DOCS, query=BRIDGE_Q, rate=0.4, bridge_weight=0)
    assert on[2].text.startswith("M. Ward (musician)") and not on[2].dropped
    assert off[2].dropped and off[2].text == ""
    # the first hop stays first in the prompt, the bridge right after it
    assert on[0].order == 0 and on[2].order == 1
    assert on[2].relevance <= on[0].relevance
    assert off[2].relevance < on[2].relevance
    with pytest.raises(ValueError, match="bridge_weight"):
        c2f.compress(BRIDGE_DOCS, query=BRIDGE_Q, bridge_weight=-1)
    with pytest.raises(ValueError, match="bridge_units"):
        c2f.compress(BRIDGE_DOCS, query=BRIDGE_Q, bridge_units=0)
