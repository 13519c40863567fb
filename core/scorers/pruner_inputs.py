"""How a question and a passage become one cross-encoder row (training and inference alike).

The row is the tokenizer's own pair layout (``[CLS] q [SEP] p [SEP]`` for BERT,
``<s> q </s></s> p </s>`` for RoBERTa and ModernBERT), built from token ids so that a passage can
be windowed without tokenizing it again. The question is cut to ``max_question`` tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PairRow:
    """One row: ids, token types, and where the passage tokens sit.

    Attributes:
        ids: Token ids, special tokens included.
        types: Token type ids (segment ids).
        offset: Index in ``ids`` of the first passage token.
    """

    ids: tuple[int, ...]
    types: tuple[int, ...]
    offset: int


@dataclass(frozen=True)
class PairTemplate:
    """The special tokens and token types a tokenizer puts around a pair (learned once)."""

    prefix: tuple[int, ...]
    middle: tuple[int, ...]
    suffix: tuple[int, ...]
    first_type: int
    second_type: int


_TEMPLATES: dict[int, PairTemplate] = {}


def pair_template(tokenizer: Any) -> PairTemplate:
    """Learn the pair layout by encoding a known pair (works for every fast tokenizer).

    Raises:
        ValueError: For a tokenizer whose pair encoding does not hold its two parts in order.
    """
    key = id(tokenizer)
    found = _TEMPLATES.get(key)
    if found is not None:
        return found
    a = tokenizer("a", add_special_tokens=False)["input_ids"]
    b = tokenizer("b", add_special_tokens=False)["input_ids"]
    enc = tokenizer("a", "b", return_token_type_ids=True)
    ids = list(enc["input_ids"])
    types = list(enc.get("token_type_ids") or [0] * len(ids))
    ia = next((i for i in range(len(ids)) if ids[i : i + len(a)] == a), -1)
    ib = next((i for i in range(ia + len(a), len(ids)) if ids[i : i + len(b)] == b), -1)
    if ia < 0 or ib < 0:
        msg = f"cannot find the pair layout of tokenizer {type(tokenizer).__name__}"
        raise ValueError(msg)
    found = PairTemplate(
        tuple(ids[:ia]),
        tuple(ids[ia + len(a) : ib]),
        tuple(ids[ib + len(b) :]),
        int(types[ia]),
        int(types[ib]),
    )
    _TEMPLATES[key] = found
    return found


def pair_row(tokenizer: Any, question_ids: list[int], passage_ids: list[int]) -> PairRow:
    """The tokenizer's pair layout of question and passage ids."""
    t = pair_template(tokenizer)
    head = (*t.prefix, *question_ids, *t.middle)
    ids = (*head, *passage_ids, *t.suffix)
    n_second = len(passage_ids) + len(t.suffix)
    types = (t.first_type,) * len(head) + (t.second_type,) * n_second
    return PairRow(ids, types, len(head))


def special_count(tokenizer: Any) -> int:
    """How many special tokens the pair layout adds."""
    t = pair_template(tokenizer)
    return len(t.prefix) + len(t.middle) + len(t.suffix)
