"""Method options as frozen dataclasses, the shared vocabulary (units, budget scope), input checks.

Each method declares its options as one frozen dataclass, a subclass of :class:`MethodOptions`;
every field is made with :func:`option` (or :func:`flag`, :func:`strings`), which records its
doc and its valid values. The instance checks every value when it is built, so an invalid option
never reaches a method. ``lingua methods``, the typed constructors
(:mod:`lingua_core.compressors`) and the options page of the docs are generated from these
fields (``tools/gen_options.py``).

Two words mean one thing in every method:

- ``unit`` (:data:`UNITS`): ``"token"`` (the model's tokens), ``"word"`` (whitespace-separated
  words with their punctuation), ``"phrase"`` (noun-phrase-like chunks) or ``"sentence"``. A
  method takes the units it can score and names them when given another.
- ``budget_scope`` (:data:`BUDGET_SCOPES`): where the budget applies. ``"text"``: each text keeps
  ``rate`` of its tokens (a text's result does not depend on the other texts); ``"global"``: one
  budget over all texts of the call; ``"chunk"`` (LLMLingua-2 only, the reference's rule): each
  model-sized chunk keeps ``rate`` of its tokens.

Renamed options (:data:`RENAMED`) keep working under their old names with a
``DeprecationWarning``.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Any, Literal, TypeVar

import numpy as np

from lingua_core.pipeline.contract import Call

#: Every unit a method may offer, and what each means (see the module docs).
UNITS: tuple[str, ...] = ("token", "word", "phrase", "sentence")
Unit = Literal["token", "word", "phrase", "sentence"]
#: Every budget scope (see the module docs).
BUDGET_SCOPES: tuple[str, ...] = ("chunk", "text", "global")
BudgetScope = Literal["chunk", "text", "global"]

#: Old option names and their new ones (the old still work, with a ``DeprecationWarning``).
RENAMED: Mapping[str, str] = {"threshold_scope": "budget_scope"}

_SPEC = "lingua_option"
_SPECS: dict[type, dict[str, Option]] = {}
Opts = TypeVar("Opts", bound="MethodOptions")


@dataclass(frozen=True)
class Option:
    """What a method option accepts: its default, and either its valid choices or a check."""

    default: Any
    doc: str
    choices: tuple[Any, ...] | None = None
    check: Callable[[Any], bool] | None = None
    expect: str = ""

    def validate(self, name: str, value: Any) -> Any:
        """Return ``value`` if it is valid for this option, else raise ``ValueError``."""
        if self.choices is not None and value not in self.choices:
            msg = f"invalid {name}={value!r}; valid: {', '.join(map(repr, self.choices))}"
            raise ValueError(msg)
        if self.check is not None and not self.check(value):
            msg = f"invalid {name}={value!r}; expected {self.expect}"
            raise ValueError(msg)
        return value


def option(
    default: Any,
    doc: str,
    *,
    choices: Sequence[Any] | None = None,
    check: Callable[[Any], bool] | None = None,
    expect: str = "",
) -> Any:
    """A field of a :class:`MethodOptions` dataclass: its default, doc and valid values."""
    spec = Option(default, doc, None if choices is None else tuple(choices), check, expect)
    return dataclasses.field(default=default, metadata={_SPEC: spec})


def is_int(v: Any) -> bool:
    """Whether ``v`` is an int (numpy ints too), not a bool."""
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def flag(default: bool, doc: str) -> Any:
    """A boolean option."""
    return option(default, doc, check=lambda v: isinstance(v, bool), expect="a bool")


def strings(default: tuple[str, ...], doc: str) -> Any:
    """An option holding a list of non-empty strings (kept as a tuple)."""
    return option(
        default,
        doc,
        check=lambda v: isinstance(v, (list, tuple)) and all(isinstance(x, str) and x for x in v),
        expect="a list of non-empty strings",
    )


def unit_option(default: str, choices: Sequence[str], doc: str) -> Any:
    """The ``unit`` option of a method that offers ``choices`` (a subset of :data:`UNITS`)."""
    bad = [c for c in choices if c not in UNITS]
    if bad:
        msg = f"units {bad} are not in the shared vocabulary {UNITS}"
        raise ValueError(msg)
    return option(default, doc, choices=choices)


def budget_scope_option(
    default: str | None = None, choices: Sequence[str | None] = (None, "text", "global")
) -> Any:
    """The ``budget_scope`` option (``None``: ``'text'`` with rate, ``'global'`` with a target)."""
    doc = (
        "Where the budget applies: 'text' (each text keeps `rate` of its tokens; a text's "
        "result does not depend on the other texts) or 'global' (one budget over all texts of "
        "the call)"
        + (
            ", or 'chunk' (each model-sized chunk keeps `rate`: the reference's rule)"
            if "chunk" in choices
            else ""
        )
        + ("; None: 'text' with rate, 'global' with target_tokens." if None in choices else ".")
    )
    return option(default, doc, choices=choices)


def max_wait_option() -> Any:
    """The ``max_wait_ms`` option of methods whose model forwards are micro-batched."""
    return option(
        2.0,
        "Concurrent calls on one model: how long the first waits for others to join its "
        "forward batch (identical rows in flight are computed once); a call alone on an idle "
        "model does not wait; 0: no wait.",
        check=lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1000,
        expect="a number of milliseconds in [0, 1000]",
    )


def seed_option() -> Any:
    """The ``seed`` option of seeded methods."""
    return option(0, "Seed mixed with each text's hash.", check=is_int, expect="an int")


def context_ids_option(doc: str = "Indices of texts the context-level filter always keeps.") -> Any:
    """An option listing input indices (``force_context_ids``)."""
    return option(
        (),
        doc,
        check=lambda v: isinstance(v, (list, tuple)) and all(is_int(x) for x in v),
        expect="a list of ints",
    )


@dataclass(frozen=True)
class MethodOptions:
    """The options of a method: a frozen dataclass whose every value is checked when built.

    Subclasses add fields made with :func:`option`; a subclass that only changes defaults
    re-declares those fields with :meth:`redefault`. Sequences given as lists are kept as
    tuples, so an instance is hashable.

    Raises:
        ValueError: When built with an invalid value (the message names the valid ones).
    """

    def __post_init__(self) -> None:
        for name, spec in self.specs().items():
            value = getattr(self, name)
            spec.validate(name, value)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))

    @classmethod
    def specs(cls) -> dict[str, Option]:
        """Every option with what it accepts, in declaration order."""
        cached = _SPECS.get(cls)
        if cached is None:
            cached = {f.name: f.metadata[_SPEC] for f in dataclasses.fields(cls)}
            _SPECS[cls] = cached
        return cached

    @classmethod
    def redefault(cls, name: str, default: Any) -> Any:
        """Field ``name`` of this class with another default (same doc, same check)."""
        spec: Option = cls.__dataclass_fields__[name].metadata[_SPEC]
        spec = dataclasses.replace(spec, default=default)
        return dataclasses.field(default=default, metadata={_SPEC: spec})

    @classmethod
    def from_given(cls: type[Opts], given: Mapping[str, Any], *, method: str = "") -> Opts:
        """The defaults updated by ``given`` (see :meth:`updated`)."""
        return cls().updated(given, method=method)

    def updated(self: Opts, given: Mapping[str, Any], *, method: str = "") -> Opts:
        """A copy with the options in ``given`` changed (old names accepted, with a warning).

        Args:
            given: Option names (old names too) and values.
            method: The method's name, for messages.

        Raises:
            ValueError: For an unknown option (the message lists the valid ones) or an invalid
                value.
        """
        if not given:
            return self
        specs = self.specs()
        changes: dict[str, Any] = {}
        for name, value in given.items():
            new = RENAMED.get(name)
            if new is not None and new in specs:
                warnings.warn(
                    f"option {name!r} is now {new!r}; the old name will be removed in a later "
                    "release",
                    DeprecationWarning,
                    stacklevel=_outside_stacklevel(),
                )
                name = new
            if name not in specs:
                valid = ", ".join(sorted(specs)) or "(none)"
                msg = f"unknown option {name!r} for method {method!r}; valid options: {valid}"
                raise ValueError(msg)
            changes[name] = value
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """Every option and its value."""
        return {name: getattr(self, name) for name in self.specs()}


def _outside_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the first caller outside this package."""
    here = os.path.dirname(os.path.abspath(__file__))
    frame: FrameType | None = sys._getframe(2)  # the caller of the function that warns
    level = 2
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(here):
        frame, level = frame.f_back, level + 1
    return level


def forced_positions(
    ids: Sequence[int], call: Call[Any], name: str = "force_context_ids"
) -> set[int]:
    """Positions, among the texts a method compresses, of the input indices ``ids``.

    :meth:`Compressor.compress` passes only non-blank texts to the method; indices given by the
    caller refer to the input list, and ``call`` maps them.

    Raises:
        ValueError: For an index outside the input list (``name`` is the option that gave it).
    """
    n = call.n_inputs
    bad = [i for i in ids if not 0 <= i < n]
    if bad:
        msg = f"{name} {bad} out of range; valid: 0..{n - 1}"
        raise ValueError(msg)
    where = {p: j for j, p in enumerate(call.positions)}
    return {where[i] for i in ids if i in where}


def validate_texts(texts: Any) -> list[str]:
    """Check that ``texts`` is a sequence of strings.

    Raises:
        TypeError: For a bare string, a non-sequence, or a non-string item.
    """
    if isinstance(texts, (str, bytes)):
        msg = "texts must be a sequence of strings, not a single string: wrap it in a list"
        raise TypeError(msg)
    if not isinstance(texts, Sequence):
        try:
            texts = list(texts)
        except TypeError:
            msg = f"texts must be a sequence of strings, got {type(texts).__name__}"
            raise TypeError(msg) from None
    out = list(texts)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            msg = f"texts[{i}] must be a str, got {type(t).__name__}"
            raise TypeError(msg)
    return out


def validate_budget(rate: Any, target_tokens: Any) -> None:
    """Check ``rate`` and ``target_tokens``.

    Raises:
        ValueError: For a rate outside (0, 1], a target that is not a positive int, or both.
    """
    if rate is not None and target_tokens is not None:
        msg = "give either rate or target_tokens, not both"
        raise ValueError(msg)
    if rate is not None:
        if isinstance(rate, bool) or not isinstance(rate, (int, float, np.number)):
            msg = f"rate must be a number in (0, 1], got {rate!r}"
            raise ValueError(msg)
        if not (0.0 < float(rate) <= 1.0):
            msg = f"rate must be in (0, 1] (the fraction of tokens to keep), got {rate!r}"
            raise ValueError(msg)
    if target_tokens is not None and (not is_int(target_tokens) or target_tokens <= 0):
        msg = f"target_tokens must be a positive int (>= 1), got {target_tokens!r}"
        raise ValueError(msg)
