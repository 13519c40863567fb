"""Segmentation, budgeted selection and assembly: the shared steps of every method."""

from __future__ import annotations

import numpy as np
import pytest

from lingua_core.pipeline.select import NEVER, select, unit_costs
from lingua_core.pipeline.text import (
    Units,
    assemble,
    assemble_marked,
    assign_to_units,
    merge_overlapping,
    phrase_units,
    segment,
    sentence_units,
    word_units,
)
from lingua_core.pipeline.tokens import WordCounter


def test_word_units_offsets():
    text = "  Hello,  world!\nNew line "
    u = word_units(text)
    assert u.texts(text) == ["Hello,", "world!", "New", "line"]


def test_phrase_units_attach_function_words_to_what_follows():
    text = "The first moon landing took place in July 1969, said NASA."
    assert phrase_units(text).texts(text) == [
        "The first moon landing took place",
        "in July 1969,",
        "said NASA.",
    ]


def test_sentence_units_handle_abbreviations_and_blank_lines():
    text = "Dr. Smith went to Washington D.C. on Jan. 5. He left.\n\nNew para here. Yes?"
    assert sentence_units(text).texts(text) == [
        "Dr. Smith went to Washington D.C. on Jan. 5.",
        "He left.",
        "New para here.",
        "Yes?",
    ]


def test_unknown_unit():
    with pytest.raises(ValueError, match="valid units: word, phrase, sentence"):
        segment("x", "clause")


def test_merge_overlapping_trims_and_merges():
    text = "ab 🚀c"
    # Byte-level pieces: " " + "ab", two pieces of the emoji sharing offsets, then "c".
    starts = np.array([0, 2, 3, 3, 4])
    ends = np.array([2, 3, 4, 4, 5])
    units, idx = merge_overlapping(starts, ends, text)
    assert units.texts(text) == ["ab", "🚀", "c"]
    assert idx.tolist() == [0, -1, 1, 1, 2]


def _merge_reference(starts, ends, text):
    """merge_overlapping as first written: strip every token's text (the spec it keeps)."""
    s, e = list(starts), list(ends)
    for i in range(len(s)):
        piece = text[s[i] : e[i]]
        if s[i] < e[i] and piece.strip() != piece:
            if not piece.strip():
                s[i] = e[i] = s[i]
            else:
                s[i] += len(piece) - len(piece.lstrip())
                e[i] = s[i] + len(piece.strip())
    units, owner, last_end = [], [], -1
    for a, b in zip(s, e):
        if b <= a:
            owner.append(-1)
        elif units and a < last_end:
            units[-1][1] = max(units[-1][1], b)
            owner.append(len(units) - 1)
        else:
            units.append([a, b])
            owner.append(len(units) - 1)
        last_end = max(last_end, b) if b > a else last_end
    return units, owner


def test_merge_overlapping_equals_stripping_every_token_on_random_offsets():
    import string

    rng = np.random.default_rng(0)
    alphabet = list(string.ascii_letters + ",.;'\"()") + list(" \t\n\x1c\x85\xa0\u2009\u3000") * 3
    alphabet += ["é", "🚀", "東"]
    for _ in range(2000):
        text = "".join(rng.choice(alphabet, size=int(rng.integers(0, 30))))
        k = int(rng.integers(0, 10))
        starts = np.sort(rng.integers(0, len(text) + 1, k))
        ends = np.minimum(starts + rng.integers(0, 5, k), len(text))
        units, idx = merge_overlapping(starts, ends, text)
        want, owner = _merge_reference(starts.tolist(), ends.tolist(), text)
        got = list(zip(units.starts.tolist(), units.ends.tolist()))
        assert got == [tuple(u) for u in want], (text, starts, ends)
        assert idx.tolist() == owner


def test_the_whitespace_table_is_what_str_strip_strips():
    from lingua_core.pipeline.text import _space_codes

    assert _space_codes().tolist() == [c for c in range(0x110000) if chr(c).isspace()]


def test_assign_to_units():
    u = Units.from_lists([0, 6], [5, 11])
    assert assign_to_units(u, np.array([0, 4, 5, 6, 10, 11])).tolist() == [0, 0, -1, 1, 1, -1]


def test_assemble_joins_runs_with_one_space_and_keeps_inner_spacing():
    text = "  One  two\nthree four five  "
    u = word_units(text)
    out, spans = assemble(text, u, np.array([True, True, False, True, False]))
    assert out == "  One  two four"
    assert spans == [(0, 10), (17, 21)]
    full, full_spans = assemble(text, u, np.ones(5, dtype=bool))
    assert full == text and full_spans == [(0, len(text))]
    assert assemble(text, u, np.zeros(5, dtype=bool)) == ("", [])


def test_unit_costs_sum_to_the_token_count():
    text = "Hello, world! It's 2024.\n\nBye."
    u = word_units(text)
    costs = unit_costs(text, u, WordCounter())
    assert costs.sum() == WordCounter().count([text])[0]
    assert costs.tolist() == [2, 2, 3, 2, 2]


def test_select_keeps_best_units_under_budget_and_fills():
    scores = [np.array([5.0, 4.0, 3.0, 2.0, 1.0])]
    costs = [np.array([2, 5, 1, 1, 1])]
    keep = select(scores, costs, [5])[0]
    # 2 (best) fits, 5 overflows and is skipped, then 1+1+1 fill the budget exactly.
    assert keep.tolist() == [True, False, True, True, True]


def test_select_nearest_rule_and_ties_by_position():
    keep = select([np.array([1.0, 1.0, 1.0])], [np.array([2, 2, 2])], [3])[0]
    assert keep.tolist() == [True, True, False]  # 4 is as near to 3 as 2 is: added
    keep = select([np.array([1.0, 1.0, 1.0])], [np.array([2, 2, 2])], [2.9])[0]
    assert keep.tolist() == [True, False, False]


def test_select_forced_units_count_against_the_budget():
    keep = select(
        [np.array([9.0, 1.0, 8.0])],
        [np.array([1, 1, 1])],
        [2],
        forced=[np.array([False, True, False])],
    )[0]
    assert keep.tolist() == [True, True, False]


def test_select_never_empties_a_text_and_rejects_unknown_scope():
    keep = select([np.array([0.1, 0.9])], [np.array([5, 5])], [0.5])[0]
    assert keep.tolist() == [False, True]
    with pytest.raises(ValueError, match="valid: text, global"):
        select([np.array([1.0])], [np.array([1])], [1], scope="chunk")


def test_select_global_scope_pools_units():
    scores = [np.array([9.0, 8.0, 7.0]), np.array([1.0, 2.0, 3.0])]
    costs = [np.array([1, 1, 1]), np.array([1, 1, 1])]
    text_scope = select(scores, costs, [1.5, 1.5], scope="text")
    global_scope = select(scores, costs, [2, 2], scope="global")
    assert [k.sum() for k in text_scope] == [2, 2]
    assert global_scope[0].tolist() == [True, True, True]
    assert global_scope[1].tolist() == [False, False, True]
    starved = select(scores, costs, [1, 1], scope="global")  # no unit left for the second text
    assert starved[1].tolist() == [False, False, False]


def test_the_best_unit_is_never_given_up_for_worse_ones():
    """Issue 25: a best unit that does not fit is kept alone (over the budget by at most it),
    not replaced by lower-scored units that fit."""
    keep = select([np.array([9.0, 1.0, 0.5])], [np.array([6, 3, 1])], [5], scope="global")[0]
    assert keep.tolist() == [True, False, False]
    keep = select([np.array([9.0, 1.0])], [np.array([6, 3])], [5], scope="text")[0]
    assert keep.tolist() == [True, False]
    # A unit masked with NEVER is not "the best": the next one is.
    keep = select([np.array([9.0, 5.0, 1.0])], [np.array([NEVER, 6, 1])], [5], scope="global")[0]
    assert keep.tolist() == [False, True, False]
    # Forced units that fill the budget leave nothing to add.
    keep = select(
        [np.array([9.0, 1.0])], [np.array([6, 5])], [5], forced=[np.array([False, True])]
    )[0]
    assert keep.tolist() == [False, True]


def test_the_two_sentence_example_keeps_the_answer():
    from lingua_core import get_compressor

    comp = get_compressor()
    text = "Beijing was formerly called Peking. Shanghai is big."
    r = comp.compress([text], query="old name of Beijing", rate=0.5)[0]
    assert r.text == "Beijing was formerly called Peking."
    for rate in (0.1, 0.25):
        assert "Peking" in comp.compress([text], query="old name of Beijing", rate=rate)[0].text


def test_sentence_units_keep_numbered_abbreviations_together():
    cases = {
        "Symphony No. 40 in G minor, KV. 550, was written in 1788. It is famous.": 2,
        "See Fig. 3 and Vol. 2 of the Proc. of the U.S. Navy. Next one.": 2,
        "It cost approx. 5 dollars. Then what? Dr. Smith agreed.": 3,
        "The answer is No. He left.": 2,  # a capital after "No.": a new sentence
        "It happened in 1788. 5 people died.": 2,  # a number before the full stop
        "He moved to Rome. 12 people followed him.": 2,  # not an abbreviation
        "It ended badly. iOS 7 came next.": 2,
        "As Smith et al. 2019 showed, it works.": 1,
        "See the Vol.\n2 of the set.": 2,  # never across a line break
        "See the Vol. 2 of the set.": 1,
    }
    for text, n in cases.items():
        assert len(sentence_units(text)) == n, sentence_units(text).texts(text)


def test_assemble_marked_marks_gaps_that_cut_into_a_sentence():
    from lingua_core.result import ELISION, join_spans

    text = "A one, b two, c three. D four. E five, f six."
    units = Units.from_lists([0, 7, 14, 23, 31, 39], [6, 13, 22, 30, 38, 45])
    groups = np.array([0, 0, 0, 1, 2, 2])
    keep = np.array([True, False, True, True, False, True])
    out, spans, elided = assemble_marked(text, units, keep, groups)
    assert spans == [(0, 6), (14, 30), (39, 45)]
    assert elided == (1, 2)  # inside sentence 0; sentence 2 lost its start
    assert out == f"A one,{ELISION}c three. D four.{ELISION}f six."
    assert out == join_spans(text, spans, elided)
    whole = np.array([True, False, False, True, True, True])  # whole sentences only
    assert assemble_marked(text, units, whole, groups)[2] == (1,)  # sentence 0 lost its end
    assert (
        assemble_marked(text, units, np.array([False, False, False, True, True, False]), groups)[2]
        == ()
    )
    assert assemble(text, units, keep)[0] == "A one, c three. D four. f six."  # no groups


def test_the_default_marks_elided_clauses():
    from lingua_core import get_compressor, join_spans

    text = (
        "Monday Night Football was, for many long decades since its first season in 1970, the "
        "most watched show on cable television in the United States, and it drew very large "
        "audiences, particularly among male viewers, who made up most of its ratings. It aired "
        "on ABC."
    )
    r = get_compressor().compress([text], query="Monday Night Football male viewers", rate=0.4)[0]
    assert r.elided and " … " in r.text
    assert r.text == join_spans(text, r.spans, r.elided)
    whole = get_compressor(max_unit_words=None).compress(
        [text], query="Monday Night Football male viewers", rate=0.4
    )[0]
    assert not whole.elided and " … " not in whole.text
