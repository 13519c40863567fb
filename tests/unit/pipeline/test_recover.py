"""Subsequence recovery: an answer's copied fragments come back in the original wording."""

from __future__ import annotations

import pytest

from lingua_core import get_compressor, recover

ORIGINAL = (
    "The Eiffel Tower was completed in March 1889 by the company of Gustave Eiffel, "
    "and it was the tallest structure in the world until 1930."
)
COMPRESSED = "Eiffel Tower completed March 1889 company Gustave Eiffel, tallest structure 1930."


def test_copied_runs_are_restored_from_the_original():
    answer = "It was completed March 1889 by company Gustave Eiffel, the tallest structure."
    assert recover(ORIGINAL, COMPRESSED, answer) == (
        "It was completed in March 1889 by company of Gustave Eiffel, the tallest structure."
    )


def test_words_not_in_the_compressed_text_are_left_alone():
    assert recover(ORIGINAL, COMPRESSED, "No idea at all") == "No idea at all"
    assert recover(ORIGINAL, COMPRESSED, "") == ""


def test_original_characters_and_case_are_returned():
    original = "Marie Skłodowska-Curie won the Nobel Prize in Physics in 1903."
    compressed = "Skłodowska-Curie won Nobel Physics 1903."
    out = recover(original, compressed, "Skłodowska-Curie won Nobel Physics")
    assert out == "Skłodowska-Curie won the Nobel Prize in Physics"


def test_recovers_from_a_real_compression():
    r = get_compressor("naive").compress([ORIGINAL])[0]
    answer = r.text.split(",")[0]
    restored = recover(ORIGINAL, r.text, answer)
    assert restored in ORIGINAL and len(restored) >= len(answer)


def test_bad_input():
    with pytest.raises(TypeError, match="response must be a str"):
        recover("a", "a", None)
