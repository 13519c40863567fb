"""Sentence embeddings from a local encoder (the embedded all-MiniLM-L6-v2 by default).

Mean pooling over the attention mask and L2 normalisation, as sentence-transformers does for
this model; batched, no network. Used by the RAG demo and the framework embedding classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lingua_core._deps import require
from lingua_core.models import LoadedModel, load_encoder


class Embedder:
    """Embeds texts with a shared encoder.

    Args:
        model: Encoder folder, hub id or ``None`` (the embedded MiniLM).
        device: ``None`` auto-detects.
        dtype: As in :func:`lingua_core.models.load_causal_lm`.
        max_length: Tokens per text (longer texts are truncated; MiniLM was trained on 256).
        batch_size: Texts per forward pass.
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        device: str | None = None,
        dtype: Any = "auto",
        max_length: int = 256,
        batch_size: int = 32,
    ) -> None:
        self.model = model
        self.device = device
        self.dtype = dtype
        self.max_length = max_length
        self.batch_size = max(1, batch_size)

    def _loaded(self) -> LoadedModel:
        return load_encoder(self.model, device=self.device, dtype=self.dtype)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One unit-length float32 vector per text, shape ``(len(texts), dim)``."""
        torch = require("torch")
        loaded = self._loaded()
        items = list(texts)
        if not items:
            dim = int(loaded.model.config.hidden_size)
            return np.zeros((0, dim), dtype=np.float32)
        order = sorted(range(len(items)), key=lambda i: -len(items[i]))
        out = np.zeros((len(items), int(loaded.model.config.hidden_size)), dtype=np.float32)

        def embed(batch: list[str]) -> Any:
            # On the model's worker: the tokenizer's padding settings are shared state too.
            enc = loaded.tokenizer(
                batch,
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_tensors="pt",
            ).to(loaded.device)
            hidden = loaded.model(**enc).last_hidden_state.float()
            mask = enc["attention_mask"].unsqueeze(-1).float()
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            return torch.nn.functional.normalize(pooled, dim=-1).cpu().numpy()

        for b in range(0, len(order), self.batch_size):
            idx = order[b : b + self.batch_size]
            out[idx] = loaded.run(embed, [items[i] for i in idx])
        return out
