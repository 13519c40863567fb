"""Causal-LM scorer: per-token surprisal ``-log p(token | prefix)`` for many texts at once.

All texts of a call are tokenized, cut into windows that fit the model, sorted by length and run
in padded batches (attention mask, right padding) under ``torch.inference_mode``. A long text is
scored in windows of ``window`` tokens; every window after the first starts with ``context``
tokens of the preceding text, whose scores are discarded, so each token is scored once and with
context. The first token of a text is conditioned on the model's BOS (or EOS) token.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from lingua_core._deps import require
from lingua_core.models import LoadedModel


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
        batch_tokens: Most padded tokens per forward (bounds memory: the logits alone take
            ``batch_tokens x vocabulary x 4`` bytes).
    """

    def __init__(
        self,
        loaded: LoadedModel,
        *,
        window: int = 1024,
        context: int = 128,
        batch_tokens: int = 2048,
    ) -> None:
        self.loaded = loaded
        cfg = loaded.model.config
        max_pos = getattr(cfg, "max_position_embeddings", None) or getattr(cfg, "n_positions", 0)
        limit = (max_pos - 1) if max_pos else window
        self.window = max(2, min(window, limit))
        self.context = max(0, min(context, self.window // 2))
        self.batch_tokens = max(batch_tokens, self.window + 1)
        tok = loaded.tokenizer
        start = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
        self.start_id: int | None = start
        pad = tok.pad_token_id if tok.pad_token_id is not None else start
        self.pad_id = 0 if pad is None else int(pad)

    def tokenize(self, texts: Sequence[str]) -> list[tuple[list[int], np.ndarray, np.ndarray]]:
        """Token ids and character offsets of each text (no special tokens)."""
        if not texts:
            return []
        enc = self.loaded.tokenizer(
            list(texts), add_special_tokens=False, return_offsets_mapping=True
        )
        out = []
        for ids, offs in zip(enc["input_ids"], enc["offset_mapping"]):
            arr = np.asarray(offs, dtype=np.int64).reshape(-1, 2)
            out.append((list(ids), arr[:, 0].copy(), arr[:, 1].copy()))
        return out

    def _windows(self, lengths: Sequence[int]) -> list[_Window]:
        wins = []
        step = self.window - self.context
        for t, n in enumerate(lengths):
            start = 0
            while start < n:
                end = min(n, start + (self.window if start == 0 else step))
                wins.append(_Window(t, max(0, start - self.context), start, end))
                start = end
        return wins

    def surprisal(self, texts: Sequence[str]) -> list[TokenScores]:
        """Surprisal (nats) of every token of every text, in one batched pass.

        Args:
            texts: The texts.

        Returns:
            One :class:`TokenScores` per text.
        """
        torch = require("torch")
        toks = self.tokenize(texts)
        out_scores = [np.zeros(len(ids), dtype=np.float32) for ids, _, _ in toks]
        wins = self._windows([len(ids) for ids, _, _ in toks])
        prefix = [] if self.start_id is None else [int(self.start_id)]
        rows = []
        for w in wins:
            rows.append((w, prefix + toks[w.text][0][w.ctx_start : w.end]))
        rows.sort(key=lambda r: -len(r[1]))
        model = self.loaded.model
        device = self.loaded.device
        i = 0
        with torch.inference_mode():
            while i < len(rows):
                longest = len(rows[i][1])
                per_batch = max(1, self.batch_tokens // longest)
                batch = rows[i : i + per_batch]
                i += len(batch)
                ids = torch.full((len(batch), longest), self.pad_id, dtype=torch.long)
                mask = torch.zeros((len(batch), longest), dtype=torch.long)
                for b, (_, row) in enumerate(batch):
                    ids[b, : len(row)] = torch.tensor(row, dtype=torch.long)
                    mask[b, : len(row)] = 1
                ids = ids.to(device)
                mask = mask.to(device)
                logits = model(input_ids=ids, attention_mask=mask, use_cache=False).logits
                logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)
                nll = -logp.gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
                nll = nll.cpu().numpy()
                for b, (w, _) in enumerate(batch):
                    # Token k sits at row index r = k - ctx_start + len(prefix); nll[b, r - 1]
                    # is its surprisal (r == 0 only when there is no start token).
                    r = np.arange(w.start, w.end) - w.ctx_start + len(prefix)
                    vals = np.full(r.shape[0], np.nan, dtype=np.float32)
                    ok = r >= 1
                    vals[ok] = nll[b, r[ok] - 1]
                    out_scores[w.text][w.start : w.end] = vals
        for s in out_scores:  # no start token: the first token has no context
            if s.size and np.isnan(s[0]):
                s[0] = float(np.nanmean(s[1:])) if s.size > 1 else 0.0
        return [
            TokenScores(starts, ends, scores) for (_, starts, ends), scores in zip(toks, out_scores)
        ]
