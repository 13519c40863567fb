"""Bad input gets a clear exception naming the valid choices; never an assert, never silence."""

from __future__ import annotations

import sys

import pytest

from lingua_core import get_compressor
from lingua_core._deps import require


@pytest.fixture
def c():
    return get_compressor("random")


def test_unknown_method_lists_the_known_ones():
    with pytest.raises(
        ValueError, match=r"unknown method 'llmlinguaa'; known methods: .*random.*selective_context"
    ):
        get_compressor("llmlinguaa")


def test_method_aliases_resolve():
    assert get_compressor("selective-context").method == "selective_context"
    assert get_compressor("identity").method == "none"
    assert get_compressor("RANDOM").method == "random"


def test_bare_string_is_a_type_error(c):
    with pytest.raises(TypeError, match="not a single string"):
        c.compress("a text")


@pytest.mark.parametrize("bad", [[1], ["ok", None], [b"bytes"]])
def test_non_str_item_is_a_type_error(c, bad):
    with pytest.raises(TypeError, match=r"texts\[\d\] must be a str"):
        c.compress(bad)


@pytest.mark.parametrize("rate", [0, -0.1, 1.01, 2, float("nan"), True, "0.5"])
def test_rate_outside_range(c, rate):
    with pytest.raises(ValueError, match=r"rate must be"):
        c.compress(["a b c"], rate=rate)


@pytest.mark.parametrize("target", [0, -3, 2.5, True])
def test_target_tokens_must_be_positive_int(c, target):
    with pytest.raises(ValueError, match=r"target_tokens must be a positive int"):
        c.compress(["a b c"], target_tokens=target)


def test_rate_and_target_tokens_together(c):
    with pytest.raises(ValueError, match="either rate or target_tokens"):
        c.compress(["a b c"], rate=0.5, target_tokens=10)


def test_unknown_option_lists_the_valid_ones(c):
    valid = "valid options: budget_scope, seed, unit"
    with pytest.raises(ValueError, match=rf"unknown option 'ratio'.*{valid}"):
        c.compress(["a b c"], ratio=0.5)
    with pytest.raises(ValueError, match=r"unknown option 'ratio'"):
        get_compressor("random", ratio=0.5)


def test_invalid_choice_names_the_choices(c):
    with pytest.raises(ValueError, match=r"invalid unit='paragraph'; valid: 'word', 'phrase'"):
        c.compress(["a b c"], unit="paragraph")
    with pytest.raises(ValueError, match=r"invalid seed='x'; expected an int"):
        get_compressor("random", seed="x")


def test_model_options_are_construction_time_only(c):
    with pytest.raises(ValueError, match="give it to get_compressor"):
        c.compress(["a b c"], device="cpu")


def test_model_free_methods_reject_a_model():
    with pytest.raises(ValueError, match="uses no model"):
        get_compressor("naive", model="some/model")


def test_query_must_be_a_string(c):
    with pytest.raises(TypeError, match="query must be a str"):
        c.compress(["a b"], query=["q"])


def test_missing_model_folder_names_the_path(tmp_path):
    missing = tmp_path / "no-such-model"
    c = get_compressor("selective_context", model=str(missing))
    with pytest.raises(FileNotFoundError, match="no-such-model"):
        c.compress(["some text to compress here"], rate=0.5)


def test_unreachable_hub_id_says_what_to_do(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    c = get_compressor("selective_context", model="nobody-here/no-such-model-xyz")
    with pytest.raises(OSError, match=r"model= a local folder"):
        c.compress(["some text to compress here"], rate=0.5)


def test_missing_optional_dependency_names_the_pip_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "tiktoken", None)
    with pytest.raises(ImportError, match=r"pip install 'lingua-rag\[tiktoken\]'"):
        require("tiktoken")
    from lingua_core.pipeline import tokens

    monkeypatch.setattr(tokens, "_TIKTOKEN_CACHE", {})
    with pytest.raises(ImportError, match="pip install"):
        get_compressor("random", token_counter="cl100k_base").compress(["a b"], rate=0.5)


def test_unsupported_token_counter_object():
    with pytest.raises(TypeError, match="unsupported token_counter"):
        get_compressor("random", token_counter=42).compress(["a b"], rate=0.5)
