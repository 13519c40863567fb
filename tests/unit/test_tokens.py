"""Token counters: rates and budgets are met in the counter's tokens."""

from __future__ import annotations

import numpy as np
import pytest

from lingua_core import get_compressor, get_token_counter
from lingua_core.tokens import HFTokenCounter, TiktokenCounter, WordCounter, find_tiktoken_file


def test_words_counter():
    c = get_token_counter("words")
    assert c.count(["Hello, world!", ""]) == [4, 0]
    assert c.token_ends("Hi there.").tolist() == [2, 8, 9]


@pytest.fixture(scope="module")
def cl100k():
    if find_tiktoken_file("cl100k_base") is None:
        pytest.skip("no offline cl100k_base file (llama-index-core ships one)")
    return get_token_counter("cl100k_base")


def test_tiktoken_counter_loads_offline(cl100k):
    assert isinstance(cl100k, TiktokenCounter)
    text = "Übergröße 東京 🚀 tokens!"
    ends = cl100k.token_ends(text)
    assert len(ends) == cl100k.count([text])[0]
    assert ends[-1] == len(text)
    assert (np.diff(ends) >= 0).all()


def test_hf_tokenizer_object_and_folder(smol_tokenizer, tiny_llama_dir):
    by_object = get_token_counter(smol_tokenizer)
    by_folder = get_token_counter(str(tiny_llama_dir))
    assert isinstance(by_object, HFTokenCounter)
    text = "The quick brown fox."
    assert (
        by_object.count([text]) == by_folder.count([text]) == [len(smol_tokenizer.tokenize(text))]
    )
    assert by_object.token_ends(text)[-1] == len(text)


class CharCounter:
    """A user-defined counter: one token per non-space character."""

    name = "chars"

    def count(self, texts):
        return [sum(not ch.isspace() for ch in t) for t in texts]

    def token_ends(self, text):
        return np.asarray([i + 1 for i, ch in enumerate(text) if not ch.isspace()], dtype=np.int64)


@pytest.mark.parametrize("counter", ["words", "cl100k_base", CharCounter()])
def test_rates_are_met_in_the_chosen_counter(counter, nq20, request):
    if counter == "cl100k_base":
        request.getfixturevalue("cl100k")
    c = get_compressor("random", token_counter=counter)
    results = c.compress(nq20, rate=0.33)
    spec = get_token_counter(counter)
    before = sum(spec.count(nq20))
    after = sum(spec.count([r.text for r in results]))
    assert sum(r.original_tokens for r in results) == before
    assert sum(r.compressed_tokens for r in results) == after
    assert abs(after / before - 0.33) <= 0.05


def test_default_counter_of_model_free_methods_is_words():
    assert isinstance(get_compressor("random").token_counter, WordCounter)
