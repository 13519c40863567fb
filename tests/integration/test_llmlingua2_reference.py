"""Faithfulness: LLMLingua-2 keeps the same words as the reference ``llmlingua`` 0.2.2.

The reference runs on the same token classifier (a seeded random-weight BERT on the MiniLM
WordPiece tokenizer, in a folder named so that the reference takes its BERT branch), on 100 NQ
passages at three rates, with ``budget_scope="chunk"`` and cl100k token weights as the reference
uses. Kept words are compared as lower-cased, accent-stripped ``\\w+`` sequences (the reference
prints the uncased tokenizer's lower-cased, accent-stripped pieces; ours keeps the original text).
"""

from __future__ import annotations

import difflib
import random
import re
import unicodedata

import numpy as np
import pytest

from lingua_core import get_compressor
from lingua_core.pipeline.tokens import find_tiktoken_file

from ..conftest import nq_passages

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def words(text: str) -> list[str]:
    text = unicodedata.normalize("NFKD", text.lower())
    return re.findall(r"\w+", "".join(ch for ch in text if not unicodedata.combining(ch)))


@pytest.fixture(scope="module")
def reference(tiny_bert_clf_dir, monkeypatch_module):
    llmlingua = pytest.importorskip("llmlingua")
    cl100k = find_tiktoken_file("cl100k_base")
    if cl100k is None:
        pytest.skip("no offline cl100k_base file")
    monkeypatch_module.setenv("TIKTOKEN_CACHE_DIR", str(cl100k.parent))
    import torch

    states = (random.getstate(), np.random.get_state(), torch.random.get_rng_state())
    try:  # the reference seeds every global RNG at construction
        return llmlingua.PromptCompressor(
            model_name=str(tiny_bert_clf_dir), use_llmlingua2=True, device_map="cpu"
        )
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.random.set_rng_state(states[2])


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


@pytest.mark.parametrize("rate", [0.33, 0.5, 0.7])
def test_kept_words_agree_with_the_reference(reference, tiny_bert_clf_dir, rate):
    texts = nq_passages(100)[0]
    ref = reference.compress_prompt_llmlingua2(texts, rate=rate)["compressed_prompt_list"]
    ours = get_compressor(
        "llmlingua2",
        model=str(tiny_bert_clf_dir),
        token_counter="cl100k_base",
        budget_scope="chunk",
        unit="token",  # the reference's words
    ).compress(texts, rate=rate)
    sims = [
        difflib.SequenceMatcher(a=words(a), b=words(b.text), autojunk=False).ratio()
        for a, b in zip(ref, ours)
    ]
    assert np.mean(sims) >= 0.98, (rate, np.mean(sims), min(sims))
    achieved = sum(r.compressed_tokens for r in ours) / sum(r.original_tokens for r in ours)
    assert abs(achieved - rate) <= 0.02
