"""Token counters: rates and budgets are met in the counter's tokens."""

from __future__ import annotations

import numpy as np
import pytest

from lingua_core import get_compressor, get_token_counter
from lingua_core.pipeline.tokens import (
    HFTokenCounter,
    TiktokenCounter,
    WordCounter,
    find_tiktoken_file,
)


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


def test_encodings_match_the_tokenizers_own_call_and_leave_its_settings_alone(smol_tokenizer):
    from lingua_core.pipeline.tokens import encode_many

    texts = ["The quick brown fox.", " leading space", "Übergröße 東京 🚀", "", "a\n\nb"]
    want = smol_tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
    for direct in (True, False):
        backend = smol_tokenizer.backend_tokenizer
        if not direct:  # a backend with truncation on is not called directly (the call resets it)
            backend.enable_truncation(4)
        got = encode_many(smol_tokenizer, texts)
        for e, ids, offs in zip(got, want["input_ids"], want["offset_mapping"]):
            assert e.ids.tolist() == ids and len(e) == len(ids)
            assert list(zip(e.starts.tolist(), e.ends.tolist())) == [tuple(o) for o in offs]
        if direct:
            assert backend.truncation is None and backend.padding is None


def test_a_call_tokenizes_each_text_once_per_tokenizer(tiny_llama_dir, nq20, monkeypatch):
    import lingua_core.pipeline.tokens as tokens

    read: list[str] = []
    real = tokens._backend_encode
    monkeypatch.setattr(tokens, "_backend_encode", lambda tok, t: read.extend(t) or real(tok, t))
    c = get_compressor("selective_context", model=str(tiny_llama_dir), unit="token")
    out = c.compress(nq20[:6], query="Who?", rate=0.4)
    # counted, scored and charged: each passage read once; then the compressed texts, counted
    assert sorted(read) == sorted(nq20[:6] + [r.text for r in out])
    read.clear()
    c.compress(nq20[:6], query="Who?", rate=0.4)
    assert sorted(read) == sorted(nq20[:6] + [r.text for r in out])  # nothing kept across calls


def test_short_texts_counts_are_memoized_bounded_and_shared_by_compressors_of_a_model(
    tiny_bert_clf_dir, minilm_tokenizer, monkeypatch
):
    words = ["The", "quick", "brown", "fox's", "jumped.", "Übergröße", "东京", "🚀", "x" * 40]
    a = get_compressor("llmlingua2", model=str(tiny_bert_clf_dir))
    b = get_compressor("llmlingua2", model=str(tiny_bert_clf_dir))
    counter = a.token_counter
    assert b.token_counter is counter  # one counter (and memo) per loaded model
    want = [len(ids) for ids in minilm_tokenizer(words, add_special_tokens=False)["input_ids"]]
    counter.forget()
    assert counter.count(words) == want
    assert counter.count(words) == want  # now from the memo
    assert "x" * 40 not in counter._short and "fox's" in counter._short  # long texts are not kept
    monkeypatch.setattr(type(counter), "MEMO_SIZE", 4)
    assert counter.count(words) == want and len(counter._short) <= len(words)
    counter.forget()
    assert counter._short == {}
