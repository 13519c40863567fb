"""Sentence embeddings from a local encoder (the embedded all-MiniLM-L6-v2 by default).

The pooling is the model's own: read from its sentence-transformers configuration
(``modules.json`` and ``1_Pooling/config.json``: mean, CLS, max or last-token pooling) when the
folder has one, mean pooling over the attention mask otherwise; vectors are L2-normalised, so a
dot product is a cosine. Texts are tokenized once, sorted by length and run in batches capped in
padded tokens (rows padded to a multiple of 8 and batched by padded length, so that a vector is
bit-identical whatever its batch-mates), every batch on the model's worker
(:meth:`lingua_core.models.LoadedModel.run`), through the encoder's micro-batcher: concurrent
calls share batches and texts in flight. Repeated texts within a call are embedded once, and a
repeated call (the same texts: a rate sweep, a retry) comes from an LRU cache. Used
by the embedding methods, the RAG demo and the framework embedding classes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lingua_core._deps import require
from lingua_core.models import LoadedModel, load_encoder
from lingua_core.models._lru import LRU
from lingua_core.models.batcher import batcher_for
from lingua_core.models.hub import raise_again, remembered
from lingua_core.scorers._batching import map_rows, resolve_batch_tokens
from lingua_core.stored.rows import call_rows, current_call_rows, model_fingerprint, text_key

logger = logging.getLogger(__name__)

#: Pooling modes understood (sentence-transformers' names).
POOLINGS = ("mean", "cls", "max", "lasttoken")
#: Architectures that are not sentence encoders (a causal LM or a classification head).
_NOT_ENCODER_SUFFIXES = (
    "ForCausalLM",
    "LMHeadModel",
    "ForConditionalGeneration",
    "ForTokenClassification",
    "ForSequenceClassification",
    "ForQuestionAnswering",
)


def read_pooling(source: str) -> str:
    """The pooling mode of a model folder's sentence-transformers config, ``"mean"`` without one.

    Raises:
        ValueError: For a pooling mode not in :data:`POOLINGS`.
    """
    folder = Path(source)
    modules = folder / "modules.json"
    pooling_dir = folder / "1_Pooling"
    if modules.is_file():
        try:
            for m in json.loads(modules.read_text(encoding="utf-8")):
                if str(m.get("type", "")).endswith("Pooling"):
                    pooling_dir = folder / str(m.get("path", "1_Pooling"))
        except (json.JSONDecodeError, AttributeError, TypeError):
            logger.warning("unreadable %s; assuming mean pooling", modules)
    config = pooling_dir / "config.json"
    if not config.is_file():
        return "mean"
    cfg = json.loads(config.read_text(encoding="utf-8"))
    if isinstance(cfg.get("pooling_mode"), str):
        mode = cfg["pooling_mode"]
    else:
        flags = {
            "cls": "pooling_mode_cls_token",
            "max": "pooling_mode_max_tokens",
            "lasttoken": "pooling_mode_lasttoken",
            "mean": "pooling_mode_mean_tokens",
        }
        mode = next((k for k, f in flags.items() if cfg.get(f)), "mean")
    if mode not in POOLINGS:
        msg = f"pooling mode {mode!r} in {config} is not supported; valid: {', '.join(POOLINGS)}"
        raise ValueError(msg)
    return str(mode)


def check_encoder(loaded: LoadedModel) -> None:
    """Refuse a model that is not a sentence encoder, saying what it is.

    Raises:
        ValueError: For a causal LM or a model with a classification head.
    """
    config = getattr(loaded.model, "config", None)
    archs = list(getattr(config, "architectures", None) or [])
    has_st = (Path(loaded.source) / "modules.json").is_file()
    bad = [a for a in archs if a.endswith(_NOT_ENCODER_SUFFIXES)]
    if bad and not has_st:
        msg = (
            f"model {loaded.source!r} is not a sentence-embedding encoder: its architecture is "
            f"{', '.join(bad)} and it has no sentence-transformers config (modules.json). Give "
            "model= an embedding model folder or hub id (e.g. all-MiniLM-L6-v2)."
        )
        raise ValueError(msg)


def _truncated(tok: Any, texts: list[str], limit: int) -> list[tuple[int, ...]]:
    """Token ids of each text with special tokens, cut to ``limit`` as ``truncation=True`` does.

    The tokenizer's own truncation is a setting on the shared Rust tokenizer, not an argument:
    a thread that turns it on truncates another thread's token counts (figures in
    docs/models.md). So the tokenizer is called with the settings every other caller uses and
    the rows are cut here, keeping the leading and trailing special tokens.
    """
    enc = tok(texts, add_special_tokens=True, return_special_tokens_mask=True, verbose=False)
    rows = []
    for ids, special in zip(enc["input_ids"], enc["special_tokens_mask"]):
        if len(ids) > limit:
            lead = next((i for i, s in enumerate(special) if not s), len(special))
            trail = next((i for i, s in enumerate(reversed(special)) if not s), 0)
            body = ids[lead : len(ids) - trail][: max(0, limit - lead - trail)]
            ids = ids[:lead] + body + ids[len(ids) - trail :]
        rows.append(tuple(ids))
    return rows


def _cache_bytes(key: Any, value: np.ndarray) -> int:
    """What an entry of the embedder's call cache holds: its vectors and its texts."""
    return int(value.nbytes) + sum(len(t) for t in key)


class Embedder:
    """Embeds texts with a shared encoder.

    Args:
        model: Encoder folder, hub id or ``None`` (the embedded MiniLM).
        device: ``None`` auto-detects.
        dtype: As in :func:`lingua_core.models.load_encoder`.
        max_length: Tokens per text (longer texts are truncated; MiniLM was trained on 256).
        batch_tokens: Most padded tokens per forward pass. ``None``: 4096 on CPU, 65536 on CUDA.
        cache_size: Calls whose embeddings the LRU cache keeps (0: none).
        cache_bytes: Most bytes the cache keeps, vectors and texts together: a server whose
            every request asks a new question fills it with a new entry per call (a
            20-passage call's vectors are about 300 KB), so the count alone let it grow to
            hundreds of MB.
        max_wait_ms: How long the first of concurrent calls on the encoder waits for others to
            join its batch (:class:`~lingua_core.models.batcher.MicroBatcher`); 0: no wait
            (identical texts in flight are still embedded once).
        model_kwargs: Passed to ``from_pretrained``.
        trust_remote_code: Allow code from the model repository to run.
        allow_pickle: Allow pickle weights.
        batch_size: Deprecated spelling kept for callers: most texts per forward pass.
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        device: str | None = None,
        dtype: Any = "auto",
        max_length: int = 256,
        batch_tokens: int | None = None,
        cache_size: int = 256,
        cache_bytes: int = 32 * 2**20,
        max_wait_ms: float = 2.0,
        model_kwargs: dict[str, Any] | None = None,
        trust_remote_code: bool = False,
        allow_pickle: bool = False,
        batch_size: int | None = None,
    ) -> None:
        if not isinstance(max_length, int) or max_length < 2:
            msg = f"max_length must be an int >= 2, got {max_length!r}"
            raise ValueError(msg)
        self.model = model
        self.device = device
        self.dtype = dtype
        self.max_length = max_length
        self.batch_tokens = batch_tokens
        self.batch_size = batch_size
        self.max_wait_ms = max_wait_ms
        self.model_kwargs = dict(model_kwargs or {})
        self.trust_remote_code = trust_remote_code
        self.allow_pickle = allow_pickle
        self._cache = LRU(cache_size, max_weight=cache_bytes, weigh=_cache_bytes)
        self._failure: Exception | None = None

    def loaded(self) -> LoadedModel:
        """The shared encoder (loaded on first use), checked to be a sentence encoder.

        A failure that trying again cannot mend (a model not on this machine while offline, a
        missing package, not an encoder) is remembered and raised again at once on later calls.
        """
        if self._failure is not None:
            raise_again(self._failure)
        try:
            loaded = load_encoder(
                self.model,
                device=self.device,
                dtype=self.dtype,
                model_kwargs=self.model_kwargs,
                trust_remote_code=self.trust_remote_code,
                allow_pickle=self.allow_pickle,
            )
            if "pooling" not in loaded.facts:
                check_encoder(loaded)
                loaded.facts["pooling"] = read_pooling(loaded.source)
        except Exception as e:
            if remembered(e):
                self._failure = e
            raise
        return loaded

    def key(self, text: str) -> str:
        """The key of ``text``'s vector in stored scores and the score cache."""
        return text_key(f"embed-text:{self._limit(self.loaded())}", text)

    @property
    def dim(self) -> int:
        """Size of one embedding."""
        return int(self.loaded().model.config.hidden_size)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One unit-length float32 vector per text, shape ``(len(texts), dim)``.

        Repeated texts are embedded once; a call with the same texts as an earlier one is
        answered from the cache.
        """
        loaded = self.loaded()
        items = tuple(texts)
        ctx = current_call_rows()
        recording = ctx is not None and ctx.recording  # score(): every row must reach the record
        hit: np.ndarray | None = None if recording else self._cache.get(items)
        if hit is not None:
            again: np.ndarray = hit.copy()
            return again
        out = np.zeros((len(items), self.dim), dtype=np.float32)
        todo: dict[str, list[int]] = {}
        for i, t in enumerate(items):
            todo.setdefault(t, []).append(i)
        if todo:
            fresh = list(todo)
            if ctx is None:
                vectors = self._forward(loaded, fresh)
            else:
                vectors = self._forward_keyed(loaded, fresh, ctx)
            for t, v in zip(fresh, vectors):
                out[todo[t]] = v
        self._cache[items] = out.copy()
        return out

    def _forward_keyed(self, loaded: LoadedModel, texts: list[str], ctx: Any) -> np.ndarray:
        """Vectors with stored scores or the score cache (:mod:`lingua_core.stored.rows`).

        Texts are looked up by text (their tokens follow from the text and the tokenizer, which
        the model fingerprint covers), so a stored text is not even tokenized; the others are
        embedded, through the batcher, and handed to the cache and the record.
        """
        fp = model_fingerprint(loaded)
        kind = f"embed-text:{self._limit(loaded)}"
        keys = [text_key(kind, t) for t in texts]
        found = ctx.lookup(fp, keys)
        missing = [i for i, k in enumerate(keys) if k not in found]
        if missing:
            with call_rows(None):  # looked up and recorded here, by text: not again by row
                vectors = self._forward(loaded, [texts[i] for i in missing])
            fresh = {keys[i]: v for i, v in zip(missing, vectors)}
            ctx.computed(fp, fresh)
            found.update(fresh)
        ctx.used(fp, found)
        return np.stack([found[k] for k in keys])

    def _limit(self, loaded: LoadedModel) -> int:
        tok = loaded.tokenizer
        return min(self.max_length, int(getattr(tok, "model_max_length", 10**6) or 10**6))

    def _forward(self, loaded: LoadedModel, texts: list[str]) -> np.ndarray:
        tok = loaded.tokenizer
        limit = self._limit(loaded)
        rows = _truncated(tok, texts, limit)
        cap = resolve_batch_tokens(self.batch_tokens, loaded.device, cpu=4096, cuda=65536)
        if self.batch_size is not None:  # old spelling: a row count, this call's rows only
            cap = max(1, self.batch_size) * max(len(r) for r in rows)
            return np.stack(self._pool_rows(loaded, cap, rows, limit))
        # Concurrent callers of this encoder share batches and in-flight rows (MicroBatcher);
        # batches run on the model's worker thread, under inference_mode (LoadedModel.run).
        batcher = batcher_for(
            loaded, f"embed:{cap}:{limit}", lambda r: self._pool_rows(loaded, cap, r, limit)
        )
        return np.stack(batcher.score(rows, max_wait_ms=self.max_wait_ms))

    @staticmethod
    def _pool_rows(
        loaded: LoadedModel, cap: int, rows: Sequence[tuple[int, ...]], limit: int
    ) -> list[np.ndarray]:
        """One pooled, unit-length float32 vector per row of token ids."""
        torch = require("torch")
        tok = loaded.tokenizer
        pooling = loaded.facts["pooling"]

        def forward(ids: Any, mask: Any) -> np.ndarray:
            hidden = loaded.model(input_ids=ids, attention_mask=mask).last_hidden_state.float()
            m = mask.unsqueeze(-1).to(hidden.dtype)
            if pooling == "cls":
                pooled = hidden[:, 0]
            elif pooling == "max":
                pooled = hidden.masked_fill(m == 0, float("-inf")).max(1).values
            elif pooling == "lasttoken":
                last = mask.sum(1) - 1
                pooled = hidden[torch.arange(hidden.shape[0]), last]
            else:
                pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)
            vec: np.ndarray = torch.nn.functional.normalize(pooled, dim=-1).cpu().numpy()
            return vec

        return map_rows(
            rows,
            forward,
            lambda vec, n: vec,
            pad_id=tok.pad_token_id if tok.pad_token_id is not None else 0,
            device=loaded.device,
            batch_tokens=cap,
            runner=loaded.run,
            max_width=limit,
        )
