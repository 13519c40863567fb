"""Cross-encoder pruner scoring: a keep score per sentence and a relevance per text, batched.

Each text is tokenized once (offsets give every token its sentence) and cut into windows that
fit the model next to the question, at sentence ends where one falls inside the window (a longer
sentence is cut into fragments). Every window is one row ``question + window``
(:func:`~lingua_core.scorers.pruner_inputs.pair_row`); all rows of all texts run in
length-bucketed batches on the model's worker (:mod:`lingua_core.models.batcher`: concurrent
calls share batches, stored scores skip them). A sentence's score follows its family's rule:
``mean`` is the mean keep probability of each of its fragments, averaged over fragments
(OpenProvence's rule; one fragment for any sentence that fits a window), ``decisions`` the share
of its tokens whose probability passes the threshold (Provence). A text's relevance is the best
of its windows'.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lingua_core._deps import require
from lingua_core.models import LoadedModel
from lingua_core.models.batcher import batcher_for
from lingua_core.pipeline.text import Units, assign_to_units
from lingua_core.pipeline.tokens import encode_many
from lingua_core.scorers._batching import padded_length, resolve_batch_tokens, run_in_batches
from lingua_core.scorers.pruner_inputs import pair_row, pair_template, special_count

_PUNCT_RE = re.compile(f"[{re.escape(string.punctuation)}]")


@dataclass(frozen=True)
class TextScores:
    """A text's scores.

    Attributes:
        sentences: One score per sentence (the family's rule), in [0, 1].
        relevance: The text's relevance (the best window's), ``-inf`` for a text with no token.
        probs: Keep probability of every token of the text (for inspection and tests).
        token_units: The sentence of every token (``-1``: none).
    """

    sentences: np.ndarray
    relevance: float
    probs: np.ndarray
    token_units: np.ndarray


def normalize_question(question: str) -> str:
    """Lower-cased, punctuation removed, spaces collapsed (Provence's question form)."""
    return " ".join(_PUNCT_RE.sub(" ", question.lower()).split())


def windows(unit_of: np.ndarray, room: int) -> list[tuple[int, int]]:
    """Contiguous token ranges of at most ``room`` tokens.

    A range ends at the last unit (sentence) end inside it, else at ``room`` tokens.
    """
    n = int(unit_of.shape[0])
    if n == 0:
        return []
    ends = np.flatnonzero(np.diff(unit_of) != 0) + 1  # token index where a new unit begins
    out = []
    s = 0
    while s < n:
        e = min(n, s + room)
        if e < n:
            inside = ends[(ends > s) & (ends <= e)]
            if inside.size:
                e = int(inside[-1])
        out.append((s, e))
        s = e
    return out


class PrunerScorer:
    """Sentence keep scores and text relevance from a loaded pruner.

    The pruner comes from :func:`lingua_core.models.pruners.load_pruner`.

    Args:
        loaded: The pruner, its ``facts["pruner_spec"]`` set.
        window: Most tokens per row, specials included (``None``: the family's; capped by the
            model's positions).
        max_question: Most question tokens.
        batch_tokens: Most padded tokens per forward pass (``None``: 2048 on CPU, 16384 on CUDA).
        max_wait_ms: How long the first of concurrent calls waits for others to join its batch.
    """

    def __init__(
        self,
        loaded: LoadedModel,
        *,
        window: int | None = None,
        max_question: int = 64,
        batch_tokens: int | None = None,
        max_wait_ms: float = 2.0,
    ) -> None:
        self.loaded = loaded
        self.spec = loaded.facts["pruner_spec"]
        tok = loaded.tokenizer
        if not getattr(tok, "is_fast", False):
            msg = f"pruners need a fast tokenizer (with offsets); {loaded.source!r} has none"
            raise ValueError(msg)
        cfg = getattr(loaded.model, "config", None)
        limit = int(getattr(cfg, "max_position_embeddings", 0) or 1 << 20)
        self.window = max(16, min(int(window or self.spec.window), limit))
        self.max_question = max(1, min(max_question, self.window // 2))
        self.batch_tokens = resolve_batch_tokens(
            batch_tokens, loaded.device, cpu=2048, cuda=16384, at_least=self.window
        )
        self.template = pair_template(tok)
        self.pad_id = tok.pad_token_id if tok.pad_token_id is not None else 0
        self.max_wait_ms = max_wait_ms

    def score(
        self,
        question: str,
        texts: Sequence[str],
        units: Sequence[Units],
        threshold: float,
        rule: str | None = None,
    ) -> list[TextScores]:
        """Scores of every text's units for ``question``, in one batched pass.

        Args:
            question: The question.
            texts: The texts.
            units: Each text's units (sentences): what a score is given to.
            threshold: The threshold of the ``decisions`` rule (unused by ``mean``).
            rule: ``"mean"`` or ``"decisions"``; ``None``: the family's.
        """
        rule = rule or self.spec.sentence_rule
        tok = self.loaded.tokenizer
        q = normalize_question(question) if self.spec.normalize_question else question
        q_ids = list(tok(q, add_special_tokens=False)["input_ids"][: self.max_question])
        room = max(8, self.window - special_count(tok) - len(q_ids))
        encs = encode_many(tok, list(texts))
        plans: list[tuple[int, int, int]] = []  # (text, start, end)
        rows: list[tuple[int, ...]] = []
        unit_of_all = []
        for t, (enc, u) in enumerate(zip(encs, units)):
            unit_of = assign_to_units(u, enc.starts) if len(enc) else np.zeros(0, dtype=np.int64)
            unit_of_all.append(unit_of)
            ids = enc.ids.tolist()
            for s, e in windows(unit_of, room):
                row = pair_row(tok, q_ids, ids[s:e])
                plans.append((t, s, e))
                rows.append((row.offset, *row.ids))
        batcher = batcher_for(self.loaded, f"pruner:{self.batch_tokens}", self._rows)
        got = batcher.score(rows, max_wait_ms=self.max_wait_ms) if rows else []
        probs = [np.zeros(len(e), dtype=np.float32) for e in encs]
        relevance = np.full(len(texts), -np.inf)
        frag_sum = [np.zeros(len(u)) for u in units]
        frag_n = [np.zeros(len(u)) for u in units]
        for (t, s, e), out in zip(plans, got):
            relevance[t] = max(relevance[t], float(out[0]))
            p = out[1:]
            probs[t][s:e] = p
            uo = unit_of_all[t][s:e]
            ok = uo >= 0
            if not ok.any():
                continue
            if rule == "mean":
                sums = np.bincount(uo[ok], weights=p[ok], minlength=len(units[t]))
                cnt = np.bincount(uo[ok], minlength=len(units[t]))
                seen = cnt > 0
                frag_sum[t][seen] += sums[seen] / cnt[seen]
                frag_n[t][seen] += 1
        out_scores = []
        for t, u in enumerate(units):
            uo = unit_of_all[t]
            if rule == "decisions":
                ok = uo >= 0
                hits = np.bincount(uo[ok], weights=(probs[t][ok] > threshold), minlength=len(u))
                cnt = np.bincount(uo[ok], minlength=len(u))
                sent = np.where(cnt > 0, hits / np.maximum(cnt, 1), 0.0)
            else:
                sent = np.where(frag_n[t] > 0, frag_sum[t] / np.maximum(frag_n[t], 1), 0.0)
            out_scores.append(TextScores(sent, float(relevance[t]), probs[t], uo))
        return out_scores

    def _rows(self, rows: Sequence[tuple[int, ...]]) -> list[np.ndarray]:
        """``[relevance, keep probability of each passage token...]`` of each row."""
        torch = require("torch")
        model = self.loaded.model
        dev = self.loaded.device
        suffix = len(self.template.suffix)
        out: list[np.ndarray] = [np.zeros(0, dtype=np.float32)] * len(rows)
        order = sorted(range(len(rows)), key=lambda i: -len(rows[i]))

        def step(batch: Sequence[int]) -> None:
            width = padded_length(max(len(rows[i]) - 1 for i in batch), self.window)
            ids = np.full((len(batch), width), self.pad_id, dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            types = np.zeros((len(batch), width), dtype=np.int64)
            for b, i in enumerate(batch):
                offset, body = rows[i][0], rows[i][1:]
                ids[b, : len(body)] = body
                mask[b, : len(body)] = 1
                types[b, :offset] = self.template.first_type
                types[b, offset : len(body)] = self.template.second_type
            tensors = [torch.from_numpy(x).to(dev) for x in (ids, mask, types)]
            keep, rel = model.predict(*tensors)
            keep_np = keep.float().cpu().numpy()
            rel_np = rel.float().cpu().numpy()
            for b, i in enumerate(batch):
                offset, n = rows[i][0], len(rows[i]) - 1
                vals = keep_np[b, offset : n - suffix]
                out[i] = np.concatenate([[rel_np[b]], vals]).astype(np.float32)

        run_in_batches(
            order,
            lambda i: len(rows[i]) - 1,
            self.batch_tokens,
            step,
            self.loaded.run,
            max_width=self.window,
        )
        return out
