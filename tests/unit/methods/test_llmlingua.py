"""LLMLingua and LongLLMLingua on a tiny random-weight Llama: every option, budgets, contracts."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from lingua_core import get_compressor, join_results
from lingua_core.methods.llmlingua import apply_context_budget, rank_deltas, reorder, solve_ratios
from lingua_core.models import load_causal_lm
from lingua_core.result import join_spans
from lingua_core.scorers.iterative import iterative_scores
from lingua_core.scorers.lm import CausalLMScorer

QUESTION = "Which engineer designed the Eiffel Tower in Paris?"


@pytest.fixture(scope="module")
def texts(nq20):
    eiffel = (
        "Eiffel Tower\nThe Eiffel Tower is a wrought-iron lattice tower in Paris. The engineer "
        "Gustave Eiffel designed the tower, and his company built it for the 1889 fair."
    )
    return [*nq20[:7], eiffel]


@pytest.fixture(scope="module")
def llm(tiny_llama_dir):
    return get_compressor("llmlingua", model=str(tiny_llama_dir))


@pytest.fixture(scope="module")
def long(tiny_llama_dir):
    return get_compressor("longllmlingua", model=str(tiny_llama_dir))


def total_rate(results):
    return sum(r.compressed_tokens for r in results) / sum(r.original_tokens for r in results)


def forwarded_counter(compressor):
    """Token positions that go through the model's body (padding included)."""
    seen = [0]

    def hook(_m, args, kwargs):
        ids = kwargs.get("input_ids", args[0] if args else None)
        seen[0] += int(ids.numel())

    handle = compressor._loaded().model.base_model.register_forward_pre_hook(hook, with_kwargs=True)
    return seen, handle


# ---------------------------------------------------------------------------- the scorer


def test_iterative_scores_equal_a_forward_over_the_kept_tokens(tiny_llama_dir, texts):
    """Each segment is scored given the prefix and only the tokens kept before it."""
    import torch

    loaded = load_causal_lm(str(tiny_llama_dir))
    scorer = CausalLMScorer(loaded, batch_tokens=300)
    items = [ids for ids, _, _ in scorer.tokenize([*texts[:3], "Short one."])]
    question = scorer.tokenize([QUESTION])[0][0]
    variants = [question, []]
    rng = np.random.default_rng(0)
    seen = []

    def decide(i, s, e, scores):
        assert len(scores) == 2 and all(x.shape == (e - s,) for x in scores)
        seen.append((i, s))
        return rng.random(e - s) < 0.5

    size = 24
    scores, keeps = iterative_scores(scorer, items, variants, size, decide)
    assert sorted(seen) == sorted(
        (i, s) for i, ids in enumerate(items) for s in range(0, len(ids), size)
    )
    for i, ids in enumerate(items):
        for v, prefix in enumerate(variants):
            for s in range(0, len(ids), size):
                kept = [t for t, k in zip(ids[:s], keeps[i][:s]) if k]
                seq = [scorer.start_id, *prefix, *kept, *ids[s : s + size]]
                with torch.inference_mode():
                    logits = loaded.model(input_ids=torch.tensor([seq])).logits[0].float()
                n = len(ids[s : s + size])
                off = len(seq) - n
                want = torch.nn.functional.cross_entropy(
                    logits[off - 1 : -1], torch.tensor(seq[off:]), reduction="none"
                ).numpy()
                np.testing.assert_allclose(scores[i][v][s : s + n], want, atol=1e-4, rtol=1e-4)


def test_solve_ratios_meets_the_budget_and_keeps_the_spread():
    sizes = [100, 300, 50, 200]
    deltas = rank_deltas(4, 0.3)
    np.testing.assert_allclose(deltas, [0.3, 0.1, -0.1, -0.3])
    r = solve_ratios(sizes, deltas, 250)
    assert float((r * sizes).sum()) == pytest.approx(250, abs=1e-6)
    assert r[0] > r[1] > r[2] > r[3]
    np.testing.assert_allclose(np.diff(r[1:3]), -0.2, atol=1e-9)
    assert solve_ratios(sizes, deltas, 10_000).tolist() == [1, 1, 1, 1]
    assert solve_ratios(sizes, deltas, 0).tolist() == [0, 0, 0, 0]
    # Clipping at 1 moves the others up so that the total still lands on the budget.
    r = solve_ratios([10, 1000], [0.9, -0.9], 600)
    assert r[0] == 1.0 and float((r * [10, 1000]).sum()) == pytest.approx(600)


def test_reorder_and_context_budget_helpers():
    used = [5, 2, 7, 0, 3]  # best first
    assert reorder(used, "original") == [0, 2, 3, 5, 7]
    assert reorder(used, "sort") == used
    assert reorder(used, "two_stage") == [5, 7, 3, 0, 2]  # best first, second best last
    assert apply_context_budget("+100", 50) == 150
    assert apply_context_budget("*1.5", 50) == 75
    assert apply_context_budget(" - 20 ", 50) == 30
    assert apply_context_budget("/2", 50) == 25


# ---------------------------------------------------------------------------- budgets


@pytest.mark.parametrize("rate", [0.6, 0.4, 0.25])
def test_rate_is_met_over_all_texts(llm, long, texts, rate):
    for c in (llm, long):
        res = c.compress(texts, query=QUESTION, rate=rate)
        assert len(res) == len(texts)
        assert total_rate(res) == pytest.approx(rate, abs=0.05), c.method
        for r, t in zip(res, texts):
            assert r.original_text == t
            assert r.text == join_spans(t, r.spans, r.elided)


def test_target_tokens_is_met(llm, texts):
    res = llm.compress(texts, target_tokens=300)
    assert sum(r.compressed_tokens for r in res) == pytest.approx(300, abs=20)


def test_everything_fits_returns_texts_whole(llm, texts):
    res = llm.compress(texts, rate=1.0)
    assert [r.text for r in res] == texts and not any(r.dropped for r in res)


# ---------------------------------------------------------------------------- context level


def test_context_filter_drops_the_lowest_ranked_texts(long, texts):
    res = long.compress(texts, query=QUESTION, rate=0.3)
    dropped = [r for r in res if r.dropped]
    kept = [r for r in res if not r.dropped]
    assert dropped and kept
    for r in dropped:  # the dropped-text contract
        assert r.text == "" and r.spans == () and r.compressed_tokens == 0 and r.order is None
        assert r.original_tokens > 0
    assert min(r.relevance for r in kept) >= max(r.relevance for r in dropped)


def test_without_context_filter_no_text_is_dropped(long, texts):
    res = long.compress(texts, query=QUESTION, rate=0.3, use_context_level_filter=False)
    assert not any(r.dropped for r in res)
    assert total_rate(res) == pytest.approx(0.3, abs=0.05)


def test_force_context_ids_keeps_a_low_ranked_text(long, texts):
    res = long.compress(texts, query=QUESTION, rate=0.3)
    worst = int(np.argmin([r.relevance for r in res]))
    assert res[worst].dropped
    forced = long.compress(texts, query=QUESTION, rate=0.3, force_context_ids=[worst])
    assert not forced[worst].dropped
    # Indices refer to the input list, blank texts included.
    shifted = long.compress(["", *texts], query=QUESTION, rate=0.3, force_context_ids=[worst + 1])
    assert not shifted[worst + 1].dropped
    with pytest.raises(ValueError, match=r"out of range; valid: 0\.\.7"):
        long.compress(texts, query=QUESTION, rate=0.3, force_context_ids=[8])


def test_context_budget_widens_or_narrows_the_kept_set(long, texts):
    def kept(budget):
        res = long.compress(texts, query=QUESTION, rate=0.3, context_budget=budget)
        return sum(not r.dropped for r in res)

    assert kept("-300") < kept("+100") < kept("*3")
    with pytest.raises(ValueError, match="context_budget"):
        long.compress(texts, query=QUESTION, context_budget="__import__('os')")


def test_bm25_ranking_puts_the_matching_text_first(long, texts):
    res = long.compress(texts, query=QUESTION, rate=0.3, rank_method="bm25")
    best = int(np.argmax([r.relevance for r in res]))
    assert best == len(texts) - 1 and not res[best].dropped
    assert res[best].order == 0  # reorder_context="sort" puts it first


@pytest.mark.parametrize("rank_method", ["llmlingua", "longllmlingua", "hybrid"])
def test_lm_rankings_differ_and_rank_every_text(long, texts, rank_method):
    res = long.compress(texts, query=QUESTION, rate=0.3, rank_method=rank_method)
    rel = [r.relevance for r in res]
    assert all(isinstance(x, float) for x in rel) and len(set(rel)) == len(rel)


def test_condition_in_question_changes_the_ranking(long, texts):
    def rel(cond, rank="longllmlingua"):
        return [
            r.relevance
            for r in long.compress(
                texts, query=QUESTION, rate=0.3, condition_in_question=cond, rank_method=rank
            )
        ]

    after, before = rel("after"), rel("before")
    assert after != before
    # As in the reference, question-likelihood ranking with "none" means "after".
    assert rel("none_condition") == after
    assert rel("none_condition", rank="llmlingua") not in (after, before)


def test_reorder_context_sets_the_prompt_order(long, texts):
    def orders(how):
        res = long.compress(texts, query=QUESTION, rate=0.5, reorder_context=how)
        kept = [i for i, r in enumerate(res) if not r.dropped]
        by_rank = sorted(kept, key=lambda i: -res[i].relevance)
        return res, kept, by_rank

    res, kept, by_rank = orders("sort")
    assert [res[i].order for i in by_rank] == list(range(len(kept)))
    assert join_results(res).startswith(res[by_rank[0]].text)
    res, kept, by_rank = orders("original")
    assert [res[i].order for i in kept] == list(range(len(kept)))
    res, kept, by_rank = orders("two_stage")
    assert res[by_rank[0]].order == 0 and res[by_rank[1]].order == len(kept) - 1
    assert join_results(res).endswith(res[by_rank[1]].text)


def test_dynamic_ratio_gives_better_ranked_texts_more(long, texts):
    def rates(d):
        res = long.compress(
            texts,
            query=QUESTION,
            rate=0.5,
            context_budget="*10",
            dynamic_context_compression_ratio=d,
        )
        assert not any(r.dropped for r in res)
        order = np.argsort([-r.relevance for r in res])
        return np.asarray([res[i].rate for i in order])

    flat, spread = rates(0.0), rates(0.4)
    assert spread[0] - spread[-1] > 0.5
    assert abs(flat[0] - flat[-1]) < 0.25


# ---------------------------------------------------------------------------- token level


def test_conditioning_and_contrast_change_the_kept_tokens(long, texts):
    kw = {"query": QUESTION, "rate": 0.4, "use_context_level_filter": False}
    plain = [
        r.text
        for r in long.compress(texts, condition_in_question="after", condition_compare=False, **kw)
    ]
    cond = [
        r.text
        for r in long.compress(
            texts, condition_in_question="after_condition", condition_compare=False, **kw
        )
    ]
    contrast = [r.text for r in long.compress(texts, **kw)]
    assert plain != cond and cond != contrast and plain != contrast


def test_instruction_conditions_scores_and_is_never_returned(llm, texts):
    instruction = "Zyxwv: answer in one word using the documents."
    base = llm.compress(texts, rate=0.4, use_context_level_filter=False)
    inst = llm.compress(texts, rate=0.4, use_context_level_filter=False, instruction=instruction)
    assert [r.text for r in base] != [r.text for r in inst]
    assert not any("Zyxwv" in r.text for r in inst)
    assert total_rate(inst) == pytest.approx(0.4, abs=0.05)


def test_iterative_size_changes_the_result_of_long_texts(llm, texts):
    a = llm.compress(texts, rate=0.4, use_context_level_filter=False, iterative_size=200)
    b = llm.compress(texts, rate=0.4, use_context_level_filter=False, iterative_size=16)
    assert [r.text for r in a] != [r.text for r in b]
    assert total_rate(b) == pytest.approx(0.4, abs=0.05)


def test_keep_first_and_last_sentence(llm):
    text = (
        "Alpha sentence opens the text here. Beta sentence follows with filler words. "
        "Gamma sentence adds more filler words. Delta sentence closes the text now."
    )
    texts = [text, text.replace("Alpha", "Omega")]
    plain = llm.compress(texts, rate=0.3, use_context_level_filter=False)
    assert not all(r.text.startswith(r.original_text.split(". ")[0]) for r in plain)
    res = llm.compress(
        texts, rate=0.3, use_context_level_filter=False, keep_first_sentence=1, keep_last_sentence=1
    )
    for r in res:
        assert r.text.startswith(r.original_text.split(". ")[0] + ".")
        assert r.text.endswith("Delta sentence closes the text now.")


def test_keep_split_keeps_blank_lines(llm, texts):
    text = "\n\n".join(t.replace("\n", " ") for t in texts[:4])
    plain = llm.compress([text], rate=0.2)[0]
    kept = llm.compress([text], rate=0.2, keep_split=True)[0]
    assert kept.text.count("\n\n") == 3 > plain.text.count("\n\n")


def test_sentence_level_filter_keeps_whole_sentences(llm, texts):
    from lingua_core.pipeline.text import sentence_units

    res = llm.compress(
        texts,
        rate=0.4,
        use_context_level_filter=False,
        use_sentence_level_filter=True,
        use_token_level_filter=False,
        keep_sentence_number=1,
    )
    some_dropped = False
    for r in res:
        sents = {
            tuple(x)
            for x in zip(
                sentence_units(r.original_text).starts.tolist(),
                sentence_units(r.original_text).ends.tolist(),
            )
        }
        starts = {s for s, _ in sents}
        ends = {e for _, e in sents}
        assert r.spans, "keep_sentence_number=1 keeps a sentence of every text"
        for s, e in r.spans:
            assert (s in starts or s == 0) and (e in ends or e == len(r.original_text))
        some_dropped |= r.compressed_tokens < r.original_tokens
    assert some_dropped
    assert total_rate(res) <= 0.4 * 1.4 + 0.1


def test_texts_longer_than_the_window_compress_in_blocks(tiny_llama_dir, nq20):
    # The tiny model has 512 positions: this text is several windows long.
    long_text = " ".join(nq20)
    c = get_compressor("llmlingua", model=str(tiny_llama_dir))
    r = c.compress([long_text, nq20[0]], rate=0.3)
    assert r[0].original_tokens > 3 * 512
    assert total_rate(r) == pytest.approx(0.3, abs=0.05)


def test_blocks_of_a_long_text_are_balanced(tiny_llama_dir, nq20):
    """A text just past the window is cut in two halves, not a full block and a sliver."""
    c = get_compressor("llmlingua", model=str(tiny_llama_dir), window=64, iterative_size=1000)
    text = " ".join(nq20[0].split()[:60])
    n = c.token_counter.count([text])[0]
    assert 70 < n < 126  # two blocks of at most 63 tokens
    widths = []

    def real_length(_m, a, k):  # padding (to a multiple of 8) excluded
        mask = k.get("attention_mask")
        ids = k.get("input_ids", a[0] if a else None)
        widths.append(ids.shape[1] if mask is None else int(mask.sum(-1).max()))

    handle = c._loaded().model.base_model.register_forward_pre_hook(real_length, with_kwargs=True)
    try:
        c.compress([text], rate=0.5)
    finally:
        handle.remove()
    assert widths and max(widths) <= n // 2 + 3  # halves (+ start token), not 63 and a sliver


def test_a_question_longer_than_the_window_is_truncated_with_a_warning(long, texts, caplog):
    question = " ".join(["Which engineer designed the tower?"] * 200)
    with caplog.at_level(logging.WARNING, logger="lingua_core"):
        res = long.compress(texts, query=question, rate=0.4)
    assert "keeping its last" in caplog.text
    assert len(res) == len(texts) and total_rate(res) == pytest.approx(0.4, abs=0.05)


def test_question_aware_method_without_query_runs_and_says_so(long, texts, caplog):
    with caplog.at_level(logging.WARNING, logger="lingua_core"):
        res = long.compress(texts, rate=0.4)
    assert "no query given" in caplog.text
    assert len(res) == len(texts) and total_rate(res) == pytest.approx(0.4, abs=0.05)


# ---------------------------------------------------------------------------- caching


def test_rate_sweep_scores_each_text_once(tiny_llama_dir, texts):
    c = get_compressor("longllmlingua", model=str(tiny_llama_dir), iterative_size=1000)
    seen, handle = forwarded_counter(c)
    try:
        first = c.compress(texts, query=QUESTION, rate=0.5)
        after_first = seen[0]
        again = c.compress(texts, query=QUESTION, rate=0.5)
        assert seen[0] == after_first  # nothing depends on the rate: all from the cache
        assert [r.text for r in again] == [r.text for r in first]
        c.compress(texts, query=QUESTION, rate=0.3)
        assert seen[0] == after_first
        c.compress(texts, query="Another question entirely?", rate=0.3)
        assert seen[0] > after_first
    finally:
        handle.remove()


# ---------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("option", "value", "valid"),
    [
        (
            "rank_method",
            "gzip",
            "'llmlingua', 'longllmlingua', 'bm25', 'embedding', 'hybrid', 'fused', 'sentbert'",
        ),
        ("reorder_context", "reverse", "'original', 'sort', 'two_stage'"),
        ("condition_in_question", "middle", "'none', 'before', 'after'"),
        ("dynamic_context_compression_ratio", 2.0, "a number in"),
        ("iterative_size", 0, "an int >= 1"),
        ("keep_first_sentence", -1, "an int >= 0"),
    ],
)
def test_bad_options_name_the_valid_choices(long, option, value, valid):
    with pytest.raises(ValueError, match=valid.replace("(", r"\(")):
        long.compress(["some text"], query="q", **{option: value})
    with pytest.raises(ValueError, match=r"valid|expected"):
        get_compressor("llmlingua", **{option: value})


def test_registry_and_defaults(tiny_llama_dir):
    long = get_compressor("long-llmlingua", model=str(tiny_llama_dir))
    assert long.method == "longllmlingua"
    assert long.defaults["condition_compare"] is True
    assert long.defaults["reorder_context"] == "sort"
    v1 = get_compressor("llmlingua-1", model=str(tiny_llama_dir))
    assert v1.method == "llmlingua" and v1.defaults["rank_method"] == "llmlingua"


def test_word_unit_never_cuts_a_word(llm, texts):
    def cut_words(results):
        cuts = 0
        for r in results:
            t = r.original_text
            for s, e in r.spans:
                cuts += (s > 0 and not t[s - 1].isspace()) + (e < len(t) and not t[e].isspace())
        return cuts

    kw = {"rate": 0.3, "use_context_level_filter": False}
    assert cut_words(llm.compress(texts, unit="token", **kw)) > 0  # the reference's unit
    words = llm.compress(texts, **kw)  # whole words: the default
    assert cut_words(words) == 0
    assert total_rate(words) == pytest.approx(0.3, abs=0.05)


def test_token_budget_ratio_and_keep_sentence_number(llm, texts):
    kw = {
        "use_context_level_filter": False,
        "use_sentence_level_filter": True,
        "use_token_level_filter": False,
    }

    def kept(**extra):
        res = llm.compress(texts, rate=0.1, **kw, **extra)
        return res, sum(r.compressed_tokens for r in res)

    _, narrow = kept(token_budget_ratio=1.0)
    _, wide = kept(token_budget_ratio=3.0)
    assert wide > narrow * 2
    res, _ = kept(token_budget_ratio=1.0)
    assert any(r.dropped for r in res)  # a budget this tight leaves some texts no sentence
    res, _ = kept(token_budget_ratio=1.0, keep_sentence_number=1)
    assert not any(r.dropped for r in res)


def test_token_plan_blocks_and_decide_as_data():
    """The token level's pieces: blocks partition the taking-part tokens; decide keeps forced
    tokens, keeps a unit's tokens together and stays within the segment's budget."""
    from lingua_core.methods.llmlingua.token_filter import SentencePlan, blocks, decide, token_plan
    from lingua_core.pipeline.text import sentence_units
    from lingua_core.pipeline.tokens import get_token_counter

    text = "Alpha beta gamma. Delta epsilon zeta eta."
    words = text.split()
    starts = np.array([text.index(w) for w in words])
    ends = starts + np.array([len(w) for w in words])
    sents = sentence_units(text)
    drop_second = SentencePlan(sents, np.array([True, False]), np.array([False, False]))
    counter = get_token_counter("words")
    plan = token_plan(
        text,
        (list(range(7)), starts, ends),
        drop_second,
        unit="word",
        keep_split=False,
        counter=counter,
    )
    assert plan.allowed.tolist() == [True] * 3 + [False] * 4  # the dropped sentence takes no part
    first = counter.count(["Alpha beta gamma."])[0]
    assert plan.free_cost == first and plan.forced_cost == 0.0
    everything = SentencePlan(sents, np.array([True, True]), np.array([False, True]))
    plan = token_plan(
        text,
        (list(range(7)), starts, ends),
        everything,
        unit="word",
        keep_split=False,
        counter=counter,
    )
    parts = blocks(plan, 3)
    assert all(len(p) <= 3 for p in parts)
    assert np.concatenate(parts).tolist() == list(range(7))
    pos = np.arange(7)
    scores = [np.array([5.0, 1.0, 4.0, 0.0, 0.0, 0.0, 0.0])]
    keep = decide(plan, pos, scores, 1 / first, compare=False)
    assert keep[3:].all()  # the protected sentence's tokens are forced
    assert keep[:3].tolist() == [True, False, False]  # a budget of one token: the best word
    assert plan.unit_keep(keep).keep.tolist() == keep.tolist()
