"""Causal-LM scorer: per-token surprisal ``-log p(token | prefix)`` for many texts at once.

All texts of a call are tokenized, cut into windows that fit the model, sorted by length and run
in padded batches (attention mask, right padding) under ``torch.inference_mode``. A long text is
scored in windows of ``window`` tokens; every window after the first starts with ``context``
tokens of the preceding text, whose scores are discarded, so each token is scored once and with
context. The first token of a text is conditioned on the model's BOS (or EOS) token, or on what
the tokenizer adds (``start="tokenizer"``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lingua_core._deps import require
from lingua_core.models import LoadedModel
from lingua_core.models.batcher import batcher_for
from lingua_core.pipeline.tokens import encode_many
from lingua_core.scorers._batching import map_rows, resolve_batch_tokens

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TokenScores:
    """Scores of the tokens of one text.

    Attributes:
        starts: Start character offset of each token.
        ends: End character offset of each token.
        scores: One float per token (here: surprisal in nats).
    """

    starts: np.ndarray
    ends: np.ndarray
    scores: np.ndarray


@dataclass(frozen=True)
class _Window:
    text: int
    ctx_start: int  # first token id fed (context included)
    start: int  # first token scored
    end: int  # one past the last token scored


class CausalLMScorer:
    """Computes token surprisal with a shared causal LM.

    Args:
        loaded: The model, tokenizer and device (from :func:`lingua_core.models.load_causal_lm`).
        window: Most tokens scored per forward row (capped by the model's context length).
        context: Tokens of preceding text carried into each later window.
        batch_tokens: Most padded tokens per forward (bounds activation memory). ``None``: 1024
            on CPU, where larger batches measured slower, and 16384 on CUDA.
        start: What precedes each row: ``"bos"`` (the BOS token, else EOS, so that a text's
            first token is scored in context, as Selective Context does with GPT-2's
            ``<|endoftext|>``) or ``"tokenizer"`` (only what the tokenizer itself adds, as the
            LLMLingua reference does; a first token with no context gets the text's mean).
        max_wait_ms: How long the first of several concurrent callers waits for the others
            to join its batch (:class:`~lingua_core.models.batcher.MicroBatcher`); 0: no
            wait (identical rows in flight are still computed once).
    """

    def __init__(
        self,
        loaded: LoadedModel,
        *,
        window: int = 1024,
        context: int = 128,
        batch_tokens: int | None = None,
        start: str = "bos",
        max_wait_ms: float = 2.0,
    ) -> None:
        self.loaded = loaded
        self.max_wait_ms = float(max_wait_ms)
        cfg = loaded.model.config
        max_pos = getattr(cfg, "max_position_embeddings", None) or getattr(cfg, "n_positions", 0)
        limit = (max_pos - 1) if max_pos else window
        self.window = max(2, min(window, limit))
        self.max_width = int(max_pos) if max_pos else None  # padding stops at the positions
        self.context = max(0, min(context, self.window // 2))
        self.batch_tokens = resolve_batch_tokens(
            batch_tokens, loaded.device, cpu=1024, cuda=16384, at_least=self.window + 1
        )
        tok = loaded.tokenizer
        if start not in ("bos", "tokenizer"):
            msg = f"invalid start={start!r}; valid: 'bos', 'tokenizer'"
            raise ValueError(msg)
        if start == "bos":
            first = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
        else:  # exactly what the tokenizer puts before a text (LLMLingua's convention)
            with_special = tok("a", add_special_tokens=True)["input_ids"]
            without = tok("a", add_special_tokens=False)["input_ids"]
            first = with_special[0] if len(with_special) > len(without) else None
        self.start_id: int | None = first
        pad = tok.pad_token_id if tok.pad_token_id is not None else start
        self.pad_id = 0 if pad is None else int(pad)
        self.head_chunk = 1024

    def can_split_head(self) -> bool:
        """Whether ``lm_head(base_model(x))`` equals the model's logits (checked once).

        Scoring through the split runs the vocabulary projection only on real (non-padding)
        positions, in chunks, instead of on every padded position at once: less compute and
        ``head_chunk x vocabulary`` floats of memory instead of ``batch x length x vocabulary``.
        Models that post-process logits (soft-capping, scaling) fail the check and use the
        plain forward.
        """
        facts = self.loaded.facts
        if "split_head" not in facts:
            torch = require("torch")
            model = self.loaded.model
            head = model.get_output_embeddings()
            base = getattr(model, "base_model", None)
            ok = head is not None and base is not None and base is not model
            if head is not None and base is not None and ok:
                probe = torch.arange(1, 9, device=self.loaded.device).unsqueeze(0)
                proj, body = head, base

                def both() -> tuple[Any, Any]:
                    full = model(input_ids=probe, use_cache=False).logits.float()
                    split = proj(body(input_ids=probe, use_cache=False).last_hidden_state).float()
                    return full, split

                full, split = self.loaded.run(both)
                ok = bool(torch.allclose(full, split, rtol=1e-3, atol=1e-3))
            facts["split_head"] = ok
        return bool(facts["split_head"])

    def _nll(self, ids: Any, mask: Any) -> Any:
        """Surprisal of ``ids[:, 1:]`` given the prefix, shape ``(batch, length - 1)``."""
        torch = require("torch")
        functional = torch.nn.functional
        model = self.loaded.model
        targets = ids[:, 1:]
        if not self.can_split_head():
            logits = model(input_ids=ids, attention_mask=mask, use_cache=False).logits[:, :-1]
            return functional.cross_entropy(
                logits.float().transpose(1, 2), targets, reduction="none"
            )
        hidden = model.base_model(
            input_ids=ids, attention_mask=mask, use_cache=False
        ).last_hidden_state[:, :-1]
        valid = mask[:, 1:].bool()
        h = hidden[valid]
        t = targets[valid]
        head = model.get_output_embeddings()
        out = torch.empty(t.shape[0], dtype=torch.float32, device=h.device)
        for i in range(0, t.shape[0], self.head_chunk):
            logits = head(h[i : i + self.head_chunk]).float()
            out[i : i + self.head_chunk] = functional.cross_entropy(
                logits, t[i : i + self.head_chunk], reduction="none"
            )
        nll = torch.zeros(targets.shape, dtype=torch.float32, device=h.device)
        nll[valid] = out
        return nll

    def _prefix_ids(self, prefixes: str | Sequence[str] | None, n: int) -> list[list[int]]:
        if prefixes is None:
            return [[] for _ in range(n)]
        if isinstance(prefixes, str):
            ids = self.conditioning_ids(self.tokenize([prefixes])[0][0]) if prefixes else []
            return [ids] * n
        if len(prefixes) != n:
            msg = f"got {len(prefixes)} prefixes for {n} texts; give one per text or one string"
            raise ValueError(msg)
        return [self.conditioning_ids(ids) for ids, _, _ in self.tokenize(list(prefixes))]

    def conditioning_ids(self, ids: list[int]) -> list[int]:
        """Token ids of a conditioning text, cut to its last ``window // 2`` (logged when cut)."""
        limit = self.window // 2
        if len(ids) > limit:
            logger.warning(
                "a conditioning text of %d tokens is longer than half the window (%d); "
                "keeping its last %d tokens",
                len(ids),
                self.window,
                limit,
            )
            return ids[-limit:]
        return ids

    def tokenize(self, texts: Sequence[str]) -> list[tuple[list[int], np.ndarray, np.ndarray]]:
        """Token ids and character offsets of each text (no special tokens)."""
        if not texts:
            return []
        encoded = encode_many(self.loaded.tokenizer, texts)
        return [(e.ids.tolist(), e.starts, e.ends) for e in encoded]

    def _windows(self, lengths: Sequence[int], widths: Sequence[int]) -> list[_Window]:
        wins = []
        for t, (n, width) in enumerate(zip(lengths, widths)):
            context = min(self.context, width // 2)
            start = 0
            while start < n:
                end = min(n, start + (width if start == 0 else width - context))
                wins.append(_Window(t, max(0, start - context), start, end))
                start = end
        return wins

    def surprisal(
        self, texts: Sequence[str], prefixes: str | Sequence[str] | None = None
    ) -> list[TokenScores]:
        """Surprisal (nats) of every token of every text, in one batched pass.

        Args:
            texts: The texts.
            prefixes: Text each one is conditioned on (its tokens are read, not scored): one
                string for all texts (e.g. the question), one per text, or ``None``. A prefix
                longer than half the window keeps its last tokens, with a warning.

        Returns:
            One :class:`TokenScores` per text.
        """
        toks = self.tokenize(texts)
        prefix_ids = self._prefix_ids(prefixes, len(texts))
        out_scores = self.surprisal_ids([ids for ids, _, _ in toks], prefix_ids)
        return [
            TokenScores(starts, ends, scores) for (_, starts, ends), scores in zip(toks, out_scores)
        ]

    def _nll_rows(self, rows: Sequence[tuple[int, ...]]) -> list[np.ndarray]:
        """Surprisal of each row's tokens after its first (one array of ``len(row) - 1``)."""
        return map_rows(
            rows,
            lambda ids, mask: self._nll(ids, mask).cpu().numpy(),
            lambda nll, n: nll[: n - 1],
            pad_id=self.pad_id,
            device=self.loaded.device,
            batch_tokens=self.batch_tokens,
            runner=self.loaded.run,
            max_width=self.max_width,
        )

    def surprisal_ids(
        self, token_ids: Sequence[Sequence[int]], prefix_ids: Sequence[Sequence[int]] | None = None
    ) -> list[np.ndarray]:
        """Surprisal of every token of already tokenized sequences (see :meth:`surprisal`).

        Args:
            token_ids: Token ids of each sequence.
            prefix_ids: Per sequence, token ids it is conditioned on (read, not scored); each
                must leave room in the window.

        Returns:
            One float32 array per sequence.
        """
        if prefix_ids is None:
            prefix_ids = [[] for _ in token_ids]
        out_scores = [np.zeros(len(ids), dtype=np.float32) for ids in token_ids]
        start = [] if self.start_id is None else [int(self.start_id)]
        wins = self._windows(
            [len(ids) for ids in token_ids], [self.window - len(p) for p in prefix_ids]
        )
        rows = []
        for w in wins:
            head = start + list(prefix_ids[w.text])
            rows.append((w, tuple(head + list(token_ids[w.text][w.ctx_start : w.end])), len(head)))
        # Concurrent callers of this model share batches and in-flight rows (MicroBatcher);
        # batches run on the model's worker thread, under inference_mode (LoadedModel.run).
        batcher = batcher_for(self.loaded, f"lm-nll:{self.batch_tokens}", self._nll_rows)
        nlls = batcher.score([row for _, row, _ in rows], max_wait_ms=self.max_wait_ms)
        for (w, _, lead), nll in zip(rows, nlls):
            # Token k sits at row index r = k - ctx_start + lead; nll[r - 1] is its surprisal
            # (r == 0 only with neither start token nor prefix).
            r = np.arange(w.start, w.end) - w.ctx_start + lead
            vals = np.full(r.shape[0], np.nan, dtype=np.float32)
            ok = r >= 1
            vals[ok] = nll[r[ok] - 1]
            out_scores[w.text][w.start : w.end] = vals
        for s in out_scores:  # no start token: the first token has no context
            if s.size and np.isnan(s[0]):
                s[0] = float(np.nanmean(s[1:])) if s.size > 1 else 0.0
        return out_scores
