"""Method options and input checks: the ``Option`` mini-language, shared options, budgets.

Every method declares its options as ``Option`` values (a default, and either its choices or a
check); :class:`lingua_core.base.Compressor` validates every given option against them, and
``lingua methods`` and the docs list them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lingua_core.outcome import CallContext
from lingua_core.select import SCOPES


def forced_positions(
    opts: Mapping[str, Any], call: CallContext, key: str = "force_context_ids"
) -> set[int]:
    """Positions, among the texts a method compresses, of the input indices in ``opts[key]``.

    :meth:`Compressor.compress` passes only non-blank texts to the method; indices given by the
    caller refer to the input list, and ``call`` maps them.

    Raises:
        ValueError: For an index outside the input list.
    """
    given = list(opts.get(key) or ())
    n = call.n_inputs
    bad = [i for i in given if not 0 <= i < n]
    if bad:
        msg = f"{key} {bad} out of range; valid: 0..{n - 1}"
        raise ValueError(msg)
    where = {p: j for j, p in enumerate(call.positions)}
    return {where[i] for i in given if i in where}


@dataclass(frozen=True)
class Option:
    """A method option: its default, and either its valid choices or a validity check."""

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


def is_int(v: Any) -> bool:
    """Whether ``v`` is an int (numpy ints too), not a bool."""
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def flag(default: bool, doc: str) -> Option:
    """A boolean option."""
    return Option(default, doc, check=lambda v: isinstance(v, bool), expect="a bool")


def strings(default: tuple[str, ...], doc: str) -> Option:
    """An option holding a list of non-empty strings."""
    return Option(
        default,
        doc,
        check=lambda v: isinstance(v, (list, tuple)) and all(isinstance(x, str) and x for x in v),
        expect="a list of non-empty strings",
    )


THRESHOLD_SCOPE = Option(
    None,
    "Where the budget applies: 'text' (each text keeps `rate` of its tokens; a text's result "
    "does not depend on the other texts) or 'global' (one budget over all texts of the call). "
    "None: 'text' with rate, 'global' with target_tokens.",
    choices=(None, *SCOPES),
)
SEED = Option(0, "Seed mixed with each text's hash.", check=is_int, expect="an int")
FORCE_CONTEXT_IDS = Option(
    (),
    "Indices of texts the context-level filter always keeps.",
    check=lambda v: isinstance(v, (list, tuple)) and all(is_int(x) for x in v),
    expect="a list of ints",
)


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
