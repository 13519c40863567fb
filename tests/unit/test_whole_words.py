"""No method cuts a word or a number with its defaults (issue 25).

A changed number is a wrong answer: the reference LLMLingua's token level turned "75%" into "5%"
and "1787" into "17 7". Every method runs here with its defaults (tiny random-weight models for
the LM and classifier methods, whose scores are arbitrary, which is the point: whatever they
keep, they keep whole words), on English, numbers-heavy text and Chinese/Japanese, and every
word of the output must be a whole word of the input, by a Unicode-aware pattern: letters and
digits with inner ``. , : ' % -``, a leading sign or currency and a trailing percent (so
"$3,450.75", "-0.25" and "12.5%" are one word each), and runs of CJK
characters (cut only at full-width punctuation, since there is no word segmenter here).
``unit="token"`` (the reference behaviour) is shown to cut them, so the check can fail.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lingua_core import get_compressor

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
WORD_RE = re.compile(rf"[{_CJK}]+|[-+$€£]?[^\W_{_CJK}]+(?:[.,:'’%-][^\W_{_CJK}]+)*%?")

ENGLISH = st.sampled_from(
    [
        "the",
        "Constitutional",
        "Convention",
        "met",
        "in",
        "Philadelphia",
        "and",
        "Renhe",
        "owned",
        "most",
        "of",
        "the",
        "mall",
        "while",
        "Washington",
        "presided",
        "over",
        "delegates",
        "from",
        "twelve",
        "states",
    ]
)
NUMBERS = st.sampled_from(
    [
        "75%",
        "1787",
        "May",
        "14,",
        "$3,450.75",
        "-0.25",
        "12.5%",
        "1:3",
        "1,234,567",
        "No.",
        "40",
        "KV.",
        "550,",
        "+7",
        "3.14159",
        "2019.",
        "(1996)",
        "10^6",
        "20th",
    ]
)
CJK = st.sampled_from(
    [
        "北京，",
        "旧称北平，",
        "是中华人民共和国的首都。",
        "上海是中国人口最多的城市，",
        "也是全球金融中心。",
        "東京は日本の首都です。",
        "人口は約1400万人、",
        "世界最大の都市圏です。",
    ]
)
SENTENCE = st.lists(st.one_of(ENGLISH, NUMBERS), min_size=3, max_size=25).map(
    lambda ws: " ".join(ws) + "."
)
TEXT = st.one_of(
    st.lists(SENTENCE, min_size=1, max_size=6).map(" ".join),
    st.lists(CJK, min_size=1, max_size=8).map("".join),
    st.lists(st.one_of(SENTENCE, CJK), min_size=1, max_size=6).map(" ".join),
)
RATES = st.sampled_from([0.1, 0.33, 0.5])
QUERY = "How much of the mall did Renhe own in 1787?"


def cut_words(original: str, output: str) -> list[str]:
    """Words of ``output`` that are not whole words of ``original``."""
    have = set(WORD_RE.findall(original))
    return [w for w in WORD_RE.findall(output) if w not in have]


def test_the_word_pattern_sees_cut_numbers():
    assert cut_words("Renhe owns 75% of it", "Renhe owns 5% of it") == ["5%"]
    assert cut_words("May 14, 1787", "May 14, 17 7") == ["17", "7"]
    assert cut_words("revenue of $3,450.75", "revenue of $3,450") == ["$3,450"]
    assert cut_words("北京，旧称北平，", "北京， 北平，") == ["北平"]
    assert cut_words("Constitutional", "itutional") == ["itutional"]
    assert cut_words("fell from -0.25 to 1:3", "fell from 0.25 to 1:3") == ["0.25"]  # sign
    assert cut_words("owns 75% of it", "owns 75 of it") == ["75"]  # percent sign
    assert cut_words("up 12.5% to $3,450.75", "up 12.5 to 3,450.75") == ["12.5", "3,450.75"]
    assert not cut_words("北京，旧称北平，是首都。", "北京， 是首都。")


@pytest.fixture(scope="module")
def compressors(tiny_llama_dir, tiny_bert_clf_dir):
    lm = {"model": str(tiny_llama_dir)}
    return {
        "coarse_to_fine": get_compressor("coarse_to_fine"),
        "sentence_embeddings": get_compressor("sentence_embeddings"),
        "embeddings_filter": get_compressor("embeddings_filter"),
        "bm25": get_compressor("bm25"),
        "selective_context": get_compressor("selective_context", **lm),
        "llmlingua": get_compressor("llmlingua", iterative_size=32, **lm),
        "longllmlingua": get_compressor("longllmlingua", iterative_size=32, **lm),
        "llmlingua2": get_compressor("llmlingua2", model=str(tiny_bert_clf_dir)),
        "random": get_compressor("random"),
        "naive": get_compressor("naive"),
    }


@pytest.mark.parametrize(
    "name",
    [
        "coarse_to_fine",
        "sentence_embeddings",
        "embeddings_filter",
        "bm25",
        "selective_context",
        "llmlingua",
        "longllmlingua",
        "llmlingua2",
        "random",
        "naive",
    ],
)
@given(texts=st.lists(TEXT, min_size=1, max_size=4), rate=RATES)
def test_defaults_keep_whole_words(compressors, name, texts, rate):
    results = compressors[name].compress(texts, query=QUERY, rate=rate)
    for r in results:
        assert not cut_words(r.original_text, r.text), (r.original_text, r.text)


def test_cjk_text_is_compressed_not_returned_whole(compressors):
    """Chinese and Japanese compress at clause level instead of coming back unchanged."""
    text = "北京，旧称北平，是中华人民共和国的首都。上海是中国人口最多的城市，也是全球金融中心。"
    for name in ("random", "naive", "selective_context"):
        r = compressors[name].compress([text], rate=0.33)[0]
        assert 0 < len(r.text) < len(text), name
        assert not cut_words(text, r.text), name


def test_token_unit_is_the_reference_and_can_cut(tiny_llama_dir):
    """``unit="token"`` keeps the reference's sub-word behaviour: it does cut words."""
    comp = get_compressor("llmlingua", model=str(tiny_llama_dir), unit="token", iterative_size=32)
    text = " ".join(["Constitutional 1,234,567 $3,450.75 12.5% approximately"] * 12)
    cut = [w for r in [comp.compress([text], rate=0.3)[0]] for w in cut_words(text, r.text)]
    assert cut  # a random-weight LM drops sub-word tokens: pieces of words come out
