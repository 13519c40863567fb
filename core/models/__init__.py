"""Loading and sharing models: devices, dtypes, the embedded defaults, offline and safe loading.

Every model goes through :func:`load_causal_lm` (or :func:`load_tokenizer`), so that one loaded
model is shared by every compressor asking for the same ``(model, device, dtype, model_kwargs,
trust_remote_code)``, loading happens once even under many threads, and the safety rules live in
one place: ``trust_remote_code=False`` unless the caller asks, weights from safetensors only
(pickle, which can run code when loaded, only with ``allow_pickle=True``), no network for a local
folder, offline (``HF_HUB_OFFLINE=1``) or with the hub unreachable, where a hub id that is not
cached fails at once (:class:`ModelUnavailableError`, naming the ``model=`` folder to pass).

The package, one module per concern: :mod:`~lingua_core.models.devices` (devices and dtypes),
:mod:`~lingua_core.models.embedded` (the embedded models, the cache folder, resolving ids),
:mod:`~lingua_core.models.hub` (offline, the hub's reachability, what is on this machine),
:mod:`~lingua_core.models.loading` (the shared cache, the loaders, the safety rules),
:mod:`~lingua_core.models.worker` (a loaded model and its worker thread),
:mod:`~lingua_core.models.batcher` (one forward pass for the rows of concurrent calls),
:mod:`~lingua_core.models.generate` (the small reader: SmolLM2 answering from a prompt),
:mod:`~lingua_core.models._lru` (a bounded cache of computed values), and the learned pruners:
:mod:`~lingua_core.models.pruners` (finding a checkpoint's layout, loading it),
:mod:`~lingua_core.models.pruner_layouts` (the upstream families' heads) and
:mod:`~lingua_core.models.pruner_net` (lingua-rag's own network).
"""

from __future__ import annotations

from lingua_core.models.devices import (
    DEVICES_HINT,
    DTYPES,
    cpu_bf16_speedup,
    fast_dtype,
    resolve_device,
    resolve_dtype,
    warn_slow_bf16,
)
from lingua_core.models.embedded import (
    EMBEDDED_CAUSAL_LM,
    EMBEDDED_ENCODER,
    SMOLLM2_HUB_ID,
    cache_dir,
    embedded_causal_lm_path,
    embedded_encoder_path,
    resolve_model_source,
    safe_cache_name,
    smollm2_gguf_path,
)
from lingua_core.models.hub import ModelUnavailableError, default_model_of, model_status
from lingua_core.models.loading import (
    clear_models,
    load_causal_lm,
    load_encoder,
    load_token_classifier,
    load_tokenizer,
    loaded_models,
    model_cache_key,
)
from lingua_core.models.worker import LoadedModel

__all__ = [
    "DEVICES_HINT",
    "DTYPES",
    "EMBEDDED_CAUSAL_LM",
    "EMBEDDED_ENCODER",
    "SMOLLM2_HUB_ID",
    "LoadedModel",
    "ModelUnavailableError",
    "cache_dir",
    "clear_models",
    "cpu_bf16_speedup",
    "default_model_of",
    "embedded_causal_lm_path",
    "embedded_encoder_path",
    "fast_dtype",
    "load_causal_lm",
    "load_encoder",
    "load_token_classifier",
    "load_tokenizer",
    "loaded_models",
    "model_cache_key",
    "model_status",
    "resolve_device",
    "resolve_dtype",
    "resolve_model_source",
    "safe_cache_name",
    "smollm2_gguf_path",
    "warn_slow_bf16",
]
