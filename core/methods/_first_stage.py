"""A cheap first stage for long inputs: BM25 chooses where the neural passes look.

A sentence encoder or a pruner reads about 5,000 words in two seconds on a 2-core CPU, and the
sentence splitter (pysbd) slows down more than linearly on very long blocks (45 s on one
50,000-word meeting transcript), so a call whose texts hold more than ``limit`` words is first
cut into chunks of about ``chunk_words`` words at line and sentence ends (a regex, milliseconds),
the chunks are ranked by BM25 against the query, and only the best chunks, up to ``limit``
words, go on to the method, as texts of their own. Their outcomes are mapped back onto the
original texts (spans shifted to the original offsets), so that the result is the same contract:
one outcome per input text, extractive, with spans.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from lingua_core.pipeline.contract import Call, TextOutcome
from lingua_core.result import join_spans
from lingua_core.scorers.rank import bm25_scores

if TYPE_CHECKING:
    from lingua_core.base import Compressor

_BOUNDARY = re.compile(r"\n+|(?<=[.!?;:])\s+")
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Plan:
    """Which chunks of which texts the method reads.

    Attributes:
        chunks: ``(text index, start, end)`` of each chosen chunk, in input order.
        texts: The chunks' strings.
    """

    chunks: tuple[tuple[int, int, int], ...]
    texts: tuple[str, ...]


def cut(text: str, chunk_words: int) -> list[tuple[int, int]]:
    """Character spans of chunks of about ``chunk_words`` words.

    Chunks end at a line or sentence end once they hold ``chunk_words`` words; a sentence of
    more than twice that is cut between words.
    """
    pieces: list[tuple[int, int]] = []  # sentence- or line-like segments
    pos = 0
    for m in _BOUNDARY.finditer(text):
        if m.start() > pos:
            pieces.append((pos, m.start()))
        pos = m.end()
    if pos < len(text):
        pieces.append((pos, len(text)))
    out: list[tuple[int, int]] = []
    start = end = -1
    n = 0
    for a, b in pieces:
        words = [(w.start(), w.end()) for w in _WORD.finditer(text, a, b)]
        while len(words) > 2 * chunk_words:  # a run-on segment: cut between words
            if start >= 0:
                out.append((start, end))
                start, n = -1, 0
            out.append((words[0][0], words[chunk_words - 1][1]))
            words = words[chunk_words:]
        if not words:
            continue
        if start < 0:
            start = words[0][0]
        end = words[-1][1]
        n += len(words)
        if n >= chunk_words:
            out.append((start, end))
            start, n = -1, 0
    if start >= 0:
        out.append((start, end))
    return out


def plan(texts: list[str], query: str, limit: int, chunk_words: int = 120) -> Plan | None:
    """The chunks to read, or ``None`` when the texts hold at most ``limit`` words."""
    total = sum(len(t.split()) for t in texts)
    if total <= limit:
        return None
    spans = [(i, s, e) for i, t in enumerate(texts) for s, e in cut(t, chunk_words)]
    strings = [texts[i][s:e] for i, s, e in spans]
    scores = bm25_scores(strings, query)
    chosen: list[int] = []
    words = 0
    for j in np.argsort(-scores, kind="stable").tolist():
        if words >= limit:
            break
        chosen.append(j)
        words += len(strings[j].split())
    chosen.sort()
    return Plan(tuple(spans[j] for j in chosen), tuple(strings[j] for j in chosen))


def merge(texts: list[str], p: Plan, outcomes: list[TextOutcome]) -> list[TextOutcome]:
    """One outcome per original text from the chunks' outcomes.

    Spans are shifted to the text's offsets; a text's relevance is its best chunk's and its
    order follows that relevance among the kept texts; a text none of whose chunks kept
    anything is dropped.
    """
    spans: list[list[tuple[int, int]]] = [[] for _ in texts]
    rel = np.full(len(texts), -np.inf)
    for (i, s, _), out in zip(p.chunks, outcomes):
        spans[i] += [(s + a, s + b) for a, b in out.spans]
        if out.relevance is not None:
            rel[i] = max(rel[i], out.relevance)
    kept = [i for i in range(len(texts)) if spans[i]]
    ranked = sorted(kept, key=lambda i: (-rel[i], i))
    order = {i: k for k, i in enumerate(ranked)}
    result = []
    for i, t in enumerate(texts):
        r = float(rel[i]) if np.isfinite(rel[i]) else None
        if not spans[i]:
            result.append(TextOutcome.dropped(relevance=r))
            continue
        merged = _merge_spans(t, sorted(spans[i]))
        result.append(TextOutcome(join_spans(t, merged), merged, order.get(i), r))
    return result


def _merge_spans(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Spans merged where they overlap or only whitespace lies between them."""
    out: list[tuple[int, int]] = []
    for a, b in spans:
        if out and (a <= out[-1][1] or not text[out[-1][1] : a].strip()):
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def run(method: Compressor[Any], call: Call[Any]) -> list[TextOutcome] | None:
    """Run ``method`` on the chosen chunks of long inputs; ``None`` when the input is short.

    The budget stays the whole input's (the rate x all its tokens, or ``target_tokens``);
    ``rate="auto"`` stays automatic. ``first_stage_words`` in the call's options is the limit
    (``None``: off).
    """
    opts = call.options
    limit = opts.first_stage_words
    if limit is None:
        return None
    p = plan(call.texts, call.question, int(limit))
    if p is None:
        return None
    sub = list(p.texts)
    sub_tokens = method.token_counter.count(sub)
    inner = dataclasses.replace(opts, first_stage_words=None)
    if call.rate == "auto":
        chunks = call.on(sub, sub_tokens, rate="auto", target_tokens=None, options=inner)
    else:
        budget = max(1, round(method._total_budget(call)))
        chunks = call.on(sub, sub_tokens, rate=None, target_tokens=budget, options=inner)
    return merge(call.texts, p, method._compress_texts(chunks))
