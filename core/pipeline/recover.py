"""Subsequence recovery (LongLLMLingua): map an LLM answer back to the original text.

An answer written from a compressed context copies its fragments ("completed March 1889"); recovery
replaces each copied run by the shortest stretch of the original text that holds the most of the
run's words in order ("completed in March 1889"), so the user sees the source's exact wording.
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict

_TOKEN_RE = re.compile(r"\w+|[^\w\s]")
_MAX_GAP = 10  # most original tokens skipped between two matched ones (the reference's limit)


def _tokens(text: str) -> tuple[list[str], list[int], list[int]]:
    toks, starts, ends = [], [], []
    for m in _TOKEN_RE.finditer(text):
        toks.append(m.group().lower())
        starts.append(m.start())
        ends.append(m.end())
    return toks, starts, ends


def recover(original: str, compressed: str, response: str) -> str:
    """Replace the runs of ``response`` copied from ``compressed`` by their ``original`` wording.

    Response words are split on spaces; a maximal run of consecutive words that occurs in
    ``compressed`` is matched against ``original``: the shortest window holding the most of the
    run's tokens in order (at most 10 tokens between two matches) is returned verbatim. Words not
    copied from the compressed text are left as they are.

    Args:
        original: The uncompressed text.
        compressed: The compressed text the answer was written from.
        response: The LLM's answer.

    Returns:
        The answer with copied runs restored from ``original``.

    Raises:
        TypeError: If an argument is not a string.
    """
    for name, value in (("original", original), ("compressed", compressed), ("response", response)):
        if not isinstance(value, str):
            msg = f"{name} must be a str, got {type(value).__name__}"
            raise TypeError(msg)
    toks, starts, ends = _tokens(original)
    positions: dict[str, list[int]] = defaultdict(list)
    for i, t in enumerate(toks):
        positions[t].append(i)

    def match(run: str) -> str:
        want = [t.lower() for t in _TOKEN_RE.findall(run)]
        if not want:
            return run
        best: tuple[int, int] | None = None
        best_count, best_len = 1, len(toks) + 1
        for first in positions.get(want[0], []):
            last, count = first, 1
            for t in want[1:]:
                pos = positions.get(t, [])
                k = bisect.bisect_right(pos, last)
                if k < len(pos) and pos[k] - last <= _MAX_GAP:
                    last = pos[k]
                    count += 1
            length = last - first + 1
            if count > best_count or (count == best_count and length < best_len):
                best, best_count, best_len = (first, last), count, length
        if best is None:
            return run
        return original[starts[best[0]] : ends[best[1]]]

    words = response.split(" ")
    out: list[str] = []
    i = 0
    while i < len(words):
        if not words[i] or words[i] not in compressed:
            out.append(words[i])
            i += 1
            continue
        j = i
        while j + 1 < len(words) and " ".join(words[i : j + 2]) in compressed:
            j += 1
        out.append(match(" ".join(words[i : j + 1])))
        i = j + 1
    return " ".join(out)
