"""An optional teacher pass: relabel the kept sentences with a chat model (an LLM as annotator).

The labels the builders derive (the sentence holding the answer string) miss sentences that
answer in other words and keep ones that merely mention the answer; Provence and OpenProvence
label with a large LLM instead. :func:`relabel` asks any chat model with an ``invoke`` method
(every LangChain chat model, or a plain function wrapped in an object) which numbered sentences
of each passage answer the question, and caches every answer in a JSON-lines file keyed by the
question and the passage, so that an interrupted pass goes on where it stopped and a second pass
costs nothing. The core imports no LLM framework: the model is passed in.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from lingua_core.pipeline.text import sentence_units
from lingua_core.train.records import Passage, PrunerRecord

logger = logging.getLogger(__name__)

PROMPT = """You label evidence for a question-answering system.

Question: {question}

Sentences of one passage, numbered:
{sentences}

Which sentences state the answer to the question, or a fact needed to reach it? Reply with their
numbers separated by commas (for example: 2, 5), or with the word none."""

_NUMBERS = re.compile(r"\d+")


class ChatModel(Protocol):
    """What the teacher needs: LangChain's ``BaseChatModel.invoke`` shape."""

    def invoke(self, prompt: str) -> Any:
        """The model's reply (a message with ``content``, or a string)."""


def _key(question: str, text: str) -> str:
    return hashlib.sha256(f"{question}\x00{text}".encode()).hexdigest()[:32]


def parse_reply(reply: Any, n: int) -> tuple[int, ...]:
    """Sentence indices (0-based) from a reply naming 1-based numbers; out-of-range ones dropped."""
    text = getattr(reply, "content", reply)
    if isinstance(text, list):  # content blocks
        text = " ".join(str(b.get("text", "")) if isinstance(b, dict) else str(b) for b in text)
    text = str(text)
    if text.strip().lower().startswith("none"):
        return ()
    got = {int(m) - 1 for m in _NUMBERS.findall(text)}
    return tuple(sorted(i for i in got if 0 <= i < n))


def _load_cache(path: Path | None) -> dict[str, list[int]]:
    if path is None or not path.is_file():
        return {}
    out: dict[str, list[int]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            out[row["key"]] = row["keep"]
    return out


def relabel(
    records: Sequence[PrunerRecord],
    model: ChatModel,
    *,
    cache: str | Path | None = None,
    prompt: str = PROMPT,
    only_relevant: bool = False,
) -> list[PrunerRecord]:
    """Records whose ``keep`` labels are the chat model's.

    Args:
        records: Records to relabel (their text is kept as is).
        model: Anything with ``invoke(prompt)`` returning a message or a string.
        cache: JSON-lines file of answers so far (read first, appended to as answers come).
        prompt: The template (``{question}``, ``{sentences}``).
        only_relevant: Ask only about passages that already have a kept sentence (negatives from
            another document stay negatives): fewer calls.

    Returns:
        New records, in order, with the teacher's labels.
    """
    path = Path(cache) if cache is not None else None
    known = _load_cache(path)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    out = []
    asked = cached = 0
    sink = path.open("a", encoding="utf-8") if path is not None else None
    try:
        for r in records:
            passages = []
            for p in r.passages:
                if only_relevant and not p.relevant:
                    passages.append(p)
                    continue
                key = _key(r.question, p.text)
                cached += key in known
                if key not in known:
                    sentences = sentence_units(p.text).texts(p.text)
                    listing = "\n".join(f"{i + 1}. {s}" for i, s in enumerate(sentences))
                    reply = model.invoke(prompt.format(question=r.question, sentences=listing))
                    known[key] = list(parse_reply(reply, len(sentences)))
                    asked += 1
                    if sink is not None:
                        sink.write(json.dumps({"key": key, "keep": known[key]}) + "\n")
                        sink.flush()
                passages.append(Passage(p.text, tuple(known[key])))
            out.append(PrunerRecord(r.question, tuple(passages), r.answers, r.source, r.meta))
    finally:
        if sink is not None:
            sink.close()
    logger.info("teacher: %d passages asked, %d from the cache", asked, cached)
    return out
