"""Options as frozen dataclasses: validation, typed constructors, renames, generated files."""

from __future__ import annotations

import dataclasses
import inspect
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import lingua_core
from lingua_core import compressors, get_compressor
from lingua_core.methods.llmlingua import LLMLinguaOptions, LongLLMLinguaOptions
from lingua_core.options import UNITS, MethodOptions
from lingua_core.registry import METHODS, method_class

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import gen_options  # noqa: E402

TEXTS = ["alpha beta gamma delta epsilon zeta eta theta", "one two three four"]


@pytest.mark.parametrize("method", sorted(METHODS))
def test_options_are_a_frozen_dataclass_checked_when_built(method):
    opts_cls = method_class(method).options_class
    assert issubclass(opts_cls, MethodOptions) and dataclasses.is_dataclass(opts_cls)
    opts = opts_cls()
    assert opts.as_dict() == {n: s.default for n, s in opts_cls.specs().items()}
    for name in opts.as_dict():
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(opts, name, None)
    with pytest.raises(ValueError, match="unknown option 'nope'"):
        opts.updated({"nope": 1}, method=method)


def test_an_invalid_value_fails_when_the_options_are_built():
    with pytest.raises(ValueError, match=r"invalid unit='token'; valid: 'word', 'phrase'"):
        get_compressor("random", unit="token")
    with pytest.raises(ValueError, match="invalid iterative_size=0; expected an int >= 1"):
        LLMLinguaOptions(iterative_size=0)


def test_lists_are_kept_as_tuples_so_options_stay_hashable():
    opts = LLMLinguaOptions().updated({"rank_signals": ["bm25", "lm"], "force_context_ids": [1]})
    assert opts.rank_signals == ("bm25", "lm") and opts.force_context_ids == (1,)
    assert hash(opts) == hash(LLMLinguaOptions(rank_signals=("bm25", "lm"), force_context_ids=(1,)))


def test_longllmlingua_options_change_defaults_only():
    base, long = LLMLinguaOptions.specs(), LongLLMLinguaOptions.specs()
    assert list(long) == list(base)
    changed = {n for n in base if base[n].default != long[n].default}
    assert changed == {
        "rank_method",
        "condition_in_question",
        "condition_compare",
        "dynamic_context_compression_ratio",
        "reorder_context",
    }
    for name in base:  # same doc, same valid values
        assert dataclasses.replace(long[name], default=base[name].default) == base[name]


@pytest.mark.parametrize("method", sorted(METHODS))
def test_unit_options_speak_one_vocabulary(method):
    spec = method_class(method).options_class.specs().get("unit")
    if spec is not None:
        assert spec.choices is not None and set(spec.choices) <= set(UNITS)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_each_typed_constructor_takes_exactly_the_methods_options(method):
    cls = method_class(method)
    typed = getattr(compressors, gen_options.NAMES[method])
    assert issubclass(typed, cls) and getattr(lingua_core, typed.__name__) is typed
    params = inspect.signature(typed.__init__).parameters
    fields = list(cls.options_class.specs())
    assert [p for p in params if p in fields] == fields
    for name, spec in cls.options_class.specs().items():
        assert params[name].default == spec.default
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY
    assert ("model" in params) == cls.uses_model
    built = typed()
    assert built.options == get_compressor(method).options
    assert built.method == method


def test_a_typed_constructor_builds_what_get_compressor_builds():
    typed = lingua_core.LongLLMLingua(rate=0.3, rank_method="bm25", iterative_size=50)
    plain = get_compressor("longllmlingua", rate=0.3, rank_method="bm25", iterative_size=50)
    assert typed.options == plain.options and typed.rate == plain.rate == 0.3
    r1 = lingua_core.Random(seed=3, unit="phrase").compress(TEXTS, rate=0.5)
    r2 = get_compressor("random", seed=3, unit="phrase").compress(TEXTS, rate=0.5)
    assert r1 == r2


def test_a_default_rate_given_at_construction_applies_to_calls_without_one():
    c = get_compressor("random", rate=0.25, seed=1)
    assert c.compress(TEXTS) == get_compressor("random", seed=1).compress(TEXTS, rate=0.25)
    assert c.compress(TEXTS, rate=0.75) == get_compressor("random", seed=1).compress(
        TEXTS, rate=0.75
    )
    by_target = get_compressor("random", target_tokens=3, seed=1)
    assert sum(r.compressed_tokens for r in by_target.compress(TEXTS)) <= 3
    with pytest.raises(ValueError, match="rate must be in"):
        get_compressor("random", rate=1.5)
    with pytest.raises(ValueError, match="rate='auto' is supported by: coarse_to_fine"):
        get_compressor("random", rate="auto")


def test_the_old_name_of_a_renamed_option_works_with_a_deprecation_warning():
    new = get_compressor("naive", budget_scope="global").compress(TEXTS, rate=0.5)
    with pytest.warns(DeprecationWarning, match="'threshold_scope' is now 'budget_scope'") as w:
        old = get_compressor("naive", threshold_scope="global")
    assert w[0].filename == __file__  # points at the caller's line, not at the library
    assert old.compress(TEXTS, rate=0.5) == new
    with pytest.warns(DeprecationWarning) as w:
        per_call = get_compressor("naive").compress(TEXTS, rate=0.5, threshold_scope="global")
    assert per_call == new and w[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        get_compressor("naive", budget_scope="global")  # the new name warns nothing


def test_generated_typed_constructors_and_options_page_are_up_to_date():
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_options.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    page = (ROOT / "docs" / "options.md").read_text()
    for method in METHODS:
        assert f"## {method}\n" in page
        for name in method_class(method).options_class.specs():
            assert f"| `{name}` |" in page
    assert "| `threshold_scope` | `budget_scope` |" in page
