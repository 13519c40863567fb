"""Token-classification scorer (LLMLingua-2): a keep-probability for every token, batched.

Texts are tokenized once with offsets; texts longer than the model's window are cut into chunks
at chunk-end tokens (``.`` and newlines by default), never inside a word. All chunks of all texts
run in length-sorted batches with dynamic padding (no padding to 512) under
``torch.inference_mode``, one device transfer per batch and a cap on padded tokens per batch, so
that a very long text runs in bounded memory. Concurrent calls on one model share batches, and a
chunk in flight for another call is not run again
(:class:`~lingua_core.models.batcher.MicroBatcher`).
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lingua_core._deps import require
from lingua_core.models import LoadedModel
from lingua_core.models.batcher import batcher_for
from lingua_core.pipeline.tokens import encode_many
from lingua_core.scorers._batching import map_rows, resolve_batch_tokens


def punctuation_ids(tokenizer: Any) -> np.ndarray:
    """Vocabulary mask of the tokens that are a single punctuation mark (each begins a word)."""
    vocab = tokenizer.get_vocab()
    mask = np.zeros(max(len(tokenizer), max(vocab.values()) + 1), dtype=bool)
    punct = set(string.punctuation)
    for piece, idx in vocab.items():
        if piece in punct:
            mask[idx] = True
    return mask


def tokenizer_word_starts(ids: np.ndarray, word_ids: np.ndarray, punct: np.ndarray) -> np.ndarray:
    """Where each tokenizer word begins: a new word id, or a punctuation token.

    The words whose first piece ``token_to_word="first"`` reads (and that training with
    ``label_pieces="first"`` labels).
    """
    starts = np.ones(ids.shape[0], dtype=bool)
    if ids.shape[0] > 1:
        starts[1:] = word_ids[1:] != word_ids[:-1]
    starts |= punct[np.minimum(ids, punct.shape[0] - 1)]
    return starts


@dataclass(frozen=True)
class Tokenized:
    """One text's tokens (special tokens excluded).

    Attributes:
        ids: Token ids.
        starts: Start character offset of each token.
        ends: End character offset of each token.
        word_starts: ``True`` where a token begins a new word.
        chunk: Index of the chunk (0, 1, ...) each token belongs to.
    """

    ids: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    word_starts: np.ndarray
    chunk: np.ndarray


class TokenClassifierScorer:
    """Keep-probabilities (softmax of label 1) from a shared token classifier.

    Args:
        loaded: Model and tokenizer from :func:`lingua_core.models.load_token_classifier`.
        max_len: Most tokens per chunk, special tokens included (capped by the model).
        batch_tokens: Most padded tokens per forward pass (at least one chunk). ``None``: 512 on
            CPU, where larger batches measured slower (cache-bound), 16384 on CUDA.
        max_wait_ms: How long the first of concurrent calls waits for others to join its
            batch; 0: no wait (identical chunks in flight are still run once).
    """

    def __init__(
        self,
        loaded: LoadedModel,
        *,
        max_len: int = 512,
        batch_tokens: int | None = None,
        max_wait_ms: float = 2.0,
    ) -> None:
        self.loaded = loaded
        self.max_wait_ms = max_wait_ms
        tok = loaded.tokenizer
        if not getattr(tok, "is_fast", False):
            msg = f"LLMLingua-2 needs a fast tokenizer (with offsets); {loaded.source!r} has none"
            raise ValueError(msg)
        cfg = loaded.model.config
        limit = getattr(cfg, "max_position_embeddings", max_len) or max_len
        if getattr(cfg, "model_type", "") in ("roberta", "xlm-roberta", "camembert"):
            limit -= 2  # RoBERTa-style position ids start after the padding index
        self.max_len = max(8, min(max_len, limit))
        self.batch_tokens = resolve_batch_tokens(
            batch_tokens, loaded.device, cpu=512, cuda=16384, at_least=self.max_len
        )
        self.cls_id = tok.cls_token_id if tok.cls_token_id is not None else tok.bos_token_id
        self.sep_id = tok.sep_token_id if tok.sep_token_id is not None else tok.eos_token_id
        self.pad_id = tok.pad_token_id if tok.pad_token_id is not None else 0
        self._punct = self._punctuation_ids()

    def _punctuation_ids(self) -> np.ndarray:
        """Vocabulary mask of tokens that are a single punctuation mark (they begin a word)."""
        facts = self.loaded.facts
        if "punctuation_ids" not in facts:
            facts["punctuation_ids"] = punctuation_ids(self.loaded.tokenizer)
        ids: np.ndarray = facts["punctuation_ids"]
        return ids

    def tokenize(self, texts: Sequence[str], chunk_end: frozenset[str]) -> list[Tokenized]:
        """Tokenize texts with offsets, word starts and chunk indices."""
        if not texts:
            return []
        out = []
        for text, enc in zip(texts, encode_many(self.loaded.tokenizer, texts)):
            ids, starts, ends, wids = enc.ids, enc.starts, enc.ends, enc.word_ids()
            word_starts = tokenizer_word_starts(ids, wids, self._punct)
            chunk = self._chunks(text, starts, ends, word_starts, chunk_end)
            out.append(Tokenized(ids, starts, ends, word_starts, chunk))
        return out

    def _chunks(
        self,
        text: str,
        starts: np.ndarray,
        ends: np.ndarray,
        word_starts: np.ndarray,
        chunk_end: frozenset[str],
    ) -> np.ndarray:
        n = starts.shape[0]
        width = self.max_len - 2
        chunk = np.zeros(n, dtype=np.int64)
        if n <= width:
            return chunk
        # A chunk may end after token j when j is a chunk-end token or a newline follows it.
        is_end = np.zeros(n, dtype=bool)
        longest_end = max((len(e) for e in chunk_end), default=0)
        for j in np.flatnonzero((ends - starts) <= longest_end).tolist():
            is_end[j] = text[starts[j] : ends[j]] in chunk_end
        if "\n" in chunk_end:
            codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
            newlines = np.concatenate([[0], np.cumsum(codes == 10)])
            next_start = np.append(starts[1:], len(text))
            is_end |= newlines[next_start] > newlines[np.minimum(ends, next_start)]
        st = 0
        c = 0
        while st < n:
            ed = min(n, st + width)  # exclusive
            if ed < n:
                cand = np.flatnonzero(is_end[st:ed])
                if cand.size:
                    ed = st + int(cand[-1]) + 1
                else:  # no chunk-end token: cut at the last word start instead
                    ws = np.flatnonzero(word_starts[st + 1 : ed])
                    if ws.size:
                        ed = st + 1 + int(ws[-1])
            chunk[st:ed] = c
            c += 1
            st = ed
        return chunk

    def keep_probs(self, tokenized: Sequence[Tokenized]) -> list[np.ndarray]:
        """Probability of label 1 ("keep") for every token of every text, in one batched pass."""
        spans: list[tuple[int, np.ndarray]] = []  # (text index, token indices of the chunk)
        for t, tk in enumerate(tokenized):
            if tk.ids.size == 0:
                continue
            bounds = np.flatnonzero(np.diff(tk.chunk)) + 1
            for idx in np.split(np.arange(tk.ids.shape[0]), bounds):
                spans.append((t, idx))
        rows = [(self.cls_id, *tokenized[t].ids[idx].tolist(), self.sep_id) for t, idx in spans]
        # Concurrent callers of this model share batches and in-flight chunks (MicroBatcher);
        # batches run on the model's worker thread, under inference_mode (LoadedModel.run).
        batcher = batcher_for(self.loaded, f"tc-keep:{self.batch_tokens}", self._probs_rows)
        probs = batcher.score(rows, max_wait_ms=self.max_wait_ms)
        out = [np.zeros(tk.ids.shape[0], dtype=np.float32) for tk in tokenized]
        for (t, idx), p in zip(spans, probs):
            out[t][idx] = p
        return out

    def _probs_rows(self, rows: Sequence[tuple[int, ...]]) -> list[np.ndarray]:
        """Keep-probabilities of each row's tokens between its special tokens."""
        torch = require("torch")
        model = self.loaded.model

        def forward(ids: Any, mask: Any) -> np.ndarray:
            logits = model(input_ids=ids, attention_mask=mask).logits
            probs: np.ndarray = torch.softmax(logits.float(), dim=-1)[..., 1].cpu().numpy()
            return probs

        return map_rows(
            rows,
            forward,
            lambda probs, n: probs[1 : n - 1],
            pad_id=self.pad_id,
            device=self.loaded.device,
            batch_tokens=self.batch_tokens,
            runner=self.loaded.run,
            max_width=self.max_len,
        )
