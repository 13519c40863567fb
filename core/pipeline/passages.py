"""What the question-aware methods read in a passage besides its sentences.

A passage's title (its short first line), the names that link one passage to another (bridges,
for multi-hop questions), and cutting long sentences into clauses.
"""

from __future__ import annotations

import re

from lingua_core.pipeline.text import Units

#: Most words a first line may have to count as a title.
TITLE_WORDS = 12


def title_of(text: str, units: Units) -> str | None:
    """The text's title: its first line when that is short and is the first unit, else None."""
    head, sep, rest = text.partition("\n")
    head = head.strip()
    if not sep or not head or not rest.strip() or len(head.split()) > TITLE_WORDS:
        return None
    if len(units) == 0 or text[units.starts[0] : units.ends[0]] != head:
        return None
    return head


_NAME_RE = re.compile(r"[A-Z0-9][\w'.-]*(?:\s+(?:of|the|de|von|van|[A-Z0-9][\w'.-]*))*")


def bridge_names(sentences: list[str], question: str) -> list[str]:
    """Capitalised names (and numbers) in ``sentences`` whose words the question lacks."""
    have = {w.lower() for w in re.findall(r"\w+", question)}
    out: list[str] = []
    for s in sentences:
        for m in _NAME_RE.finditer(s):
            name = m.group(0).strip(" .")
            words = {w.lower() for w in re.findall(r"\w+", name)}
            if words and not words <= have and name not in out:
                out.append(name)
    return out


_QUALIFIER_RE = re.compile(r"\s*\([^)]*\)")


def bridge_texts(
    titles: list[str | None], found: list[str], found_docs: set[int], question: str
) -> list[int]:
    """Texts whose title (qualifier in brackets left out) ``found`` names and the question lacks.

    Args:
        titles: Each text's title, or None.
        found: The best sentences so far.
        found_docs: The texts those sentences come from (never bridges themselves).
        question: The query.

    Returns:
        The indices of the bridge texts, in input order.
    """
    seen = " ".join(found).lower()
    q = question.lower()
    out = []
    for i, title in enumerate(titles):
        name = _QUALIFIER_RE.sub("", title or "").strip().lower()
        if i in found_docs or len(name) < 3 or name in q:
            continue
        if name in seen and re.search(rf"(?<!\w){re.escape(name)}(?!\w)", seen):
            out.append(i)
    return out


_CLAUSE_RE = re.compile(r"[,;:](?=\s)")


def split_long(text: str, units: Units, max_words: int) -> Units:
    """Units with every sentence over ``max_words`` words cut at clause punctuation."""
    starts: list[int] = []
    ends: list[int] = []
    for a, b in zip(units.starts.tolist(), units.ends.tolist()):
        piece = text[a:b]
        if len(piece.split()) <= max_words:
            starts.append(a)
            ends.append(b)
            continue
        cut = a
        for m in _CLAUSE_RE.finditer(piece):
            end = a + m.end()
            if len(text[cut:end].split()) >= 4 and len(text[end:b].split()) >= 4:
                starts.append(cut)
                ends.append(end)
                cut = end
                while cut < b and text[cut].isspace():
                    cut += 1
        starts.append(cut)
        ends.append(b)
    return Units.from_lists(starts, ends)
