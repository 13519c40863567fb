"""Loading and sharing models: the shared cache, the loaders and the safety rules.

One load at a time, one loaded model per key; ``trust_remote_code`` off unless asked, weights
from safetensors only unless ``allow_pickle``, no network for a local folder, offline
(``HF_HUB_OFFLINE``) or with the hub unreachable (:mod:`lingua_core.models.hub`: a hub id that is
not cached then fails at once, naming the ``model=`` folder to pass).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lingua_core._deps import require
from lingua_core.models.devices import resolve_device, resolve_dtype, warn_slow_bf16
from lingua_core.models.embedded import resolve_model_source
from lingua_core.models.hub import hub_kwargs
from lingua_core.models.worker import LoadedModel

logger = logging.getLogger(__name__)

#: Written beside an aligned LM by ``lingua distill align``: its base's name, its training.
ALIGN_META = "lingua_align.json"
#: What marks a folder of LoRA adapters (peft's).
ADAPTER_CONFIG = "adapter_config.json"


def _load_error(source: str, e: Exception) -> OSError:
    msg = (
        f"could not load model {source!r}: {e}. Pass model= a local folder holding the model, "
        "or a hub id reachable from this machine (set HF_HUB_OFFLINE=1 to forbid downloads)."
    )
    return OSError(msg)


# --------------------------------------------------------------------------- the shared cache


_CACHE: dict[tuple[Any, ...], LoadedModel] = {}
_CACHE_LOCK = threading.Lock()
# Loads run one at a time: transformers' loading (meta-device initialisation) is not safe across
# threads ("Cannot copy out of meta tensor" when two models load at once). Reentrant, since a
# loader may load a tokenizer.
_LOAD_LOCK = threading.RLock()


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


def model_cache_key(
    kind: str,
    source: str,
    device: str,
    dtype: Any,
    model_kwargs: Mapping[str, Any] | None,
    trust_remote_code: bool,
) -> tuple[Any, ...]:
    """The key under which a loaded model is shared."""
    return (kind, source, device, str(dtype), _freeze(model_kwargs or {}), trust_remote_code)


def _get_or_load(key: tuple[Any, ...], loader: Any) -> LoadedModel:
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            return hit
    with _LOAD_LOCK:  # one load at a time, and one per key
        with _CACHE_LOCK:
            hit = _CACHE.get(key)
        if hit is not None:
            return hit
        loaded: LoadedModel = loader()
        with _CACHE_LOCK:
            _CACHE[key] = loaded
        return loaded


def loaded_models() -> list[tuple[Any, ...]]:
    """Keys of the models loaded now (for inspection and tests)."""
    with _CACHE_LOCK:
        return list(_CACHE)


def clear_models() -> None:
    """Forget every shared model, so that its memory can be freed (and CUDA caches emptied)."""
    with _CACHE_LOCK:
        for loaded in _CACHE.values():
            loaded.close()
        _CACHE.clear()
    import sys

    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def _hf_kwargs(
    source: str, trust_remote_code: bool, model_kwargs: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """``from_pretrained`` keywords; local files only where the hub cannot or must not be used.

    Raises:
        ModelUnavailableError: For a hub id that is not cached while offline (at once, with no
            hub retries).
    """
    return {"trust_remote_code": bool(trust_remote_code), **hub_kwargs(source, model_kwargs)}


def _check_available(source: str, model_kwargs: Mapping[str, Any] | None) -> None:
    """Fail at once, before torch is imported, for a hub id that cannot be had (offline).

    Raises:
        ModelUnavailableError: See :func:`lingua_core.models.hub.hub_kwargs`.
    """
    with _CACHE_LOCK:
        loaded = any(key[1] == source for key in _CACHE)
    if not loaded:
        hub_kwargs(source, model_kwargs)


def load_tokenizer(
    model: str | os.PathLike[str] | None,
    *,
    kind: str = "causal_lm",
    trust_remote_code: bool = False,
) -> Any:
    """Load (once) the tokenizer of a model: alias, local folder or hub id."""
    source = resolve_model_source(model, kind=kind)
    key = model_cache_key("tokenizer", source, "-", "-", None, trust_remote_code)

    def _load() -> LoadedModel:
        hf = _hf_kwargs(source, trust_remote_code)  # before any import: fails fast offline
        transformers = require("transformers")
        try:
            tok = transformers.AutoTokenizer.from_pretrained(source, **hf)
        except (OSError, ValueError) as e:
            raise _load_error(source, e) from e
        return LoadedModel(None, tok, "-", None, source)

    return _get_or_load(key, _load).tokenizer


def load_causal_lm(
    model: str | os.PathLike[str] | None = None,
    *,
    device: str | None = None,
    dtype: Any = "auto",
    model_kwargs: Mapping[str, Any] | None = None,
    trust_remote_code: bool = False,
    allow_pickle: bool = False,
) -> LoadedModel:
    """Load (once, shared) a causal LM and its tokenizer, in eval mode on its device.

    Args:
        model: ``None`` or ``"smollm2"`` (the embedded SmolLM2-135M-Instruct), a local folder or a
            hub id.
        device: ``None`` auto-detects (cuda, mps, cpu).
        dtype: ``"auto"`` (bf16/fp16 on CUDA, fp32 on CPU), a name in :data:`DTYPES`, or a
            ``torch.dtype``.
        model_kwargs: Passed to ``from_pretrained`` (e.g. ``{"attn_implementation": "sdpa"}``).
        trust_remote_code: Run code from the model repository; off unless you ask.
        allow_pickle: Load pickle weights (``pytorch_model.bin``) when there are no safetensors;
            pickle can run code on load, so off unless you ask.

    Raises:
        FileNotFoundError: For a model folder that does not exist.
        ModelUnavailableError: An ``OSError``, at once, for a hub id that is not cached while
            offline or with the hub unreachable (see :mod:`lingua_core.models.hub`).
        OSError: When the model cannot be loaded (e.g. only pickle weights without
            ``allow_pickle=True``).
    """
    return _load_model(
        "causal_lm",
        "AutoModelForCausalLM",
        model,
        device,
        dtype,
        model_kwargs,
        trust_remote_code,
        allow_pickle=allow_pickle,
    )


def load_token_classifier(
    model: str | os.PathLike[str],
    *,
    device: str | None = None,
    dtype: Any = "auto",
    model_kwargs: Mapping[str, Any] | None = None,
    trust_remote_code: bool = False,
    allow_pickle: bool = False,
) -> LoadedModel:
    """Load (once, shared) a ``*ForTokenClassification`` model and its tokenizer.

    Arguments as for :func:`load_causal_lm`; ``model`` is ``"minilm"``, a folder or a hub id.

    Raises:
        ValueError: When the model is not a token classifier (naming its architecture).
        FileNotFoundError: For a model folder that does not exist.
        OSError: When the model cannot be loaded.
    """
    return _load_model(
        "token_classifier",
        "AutoModelForTokenClassification",
        model,
        device,
        dtype,
        model_kwargs,
        trust_remote_code,
        architecture_suffix="ForTokenClassification",
        allow_pickle=allow_pickle,
    )


def load_encoder(
    model: str | os.PathLike[str] | None = None,
    *,
    device: str | None = None,
    dtype: Any = "auto",
    model_kwargs: Mapping[str, Any] | None = None,
    trust_remote_code: bool = False,
    allow_pickle: bool = False,
) -> LoadedModel:
    """Load (once, shared) a plain encoder (``AutoModel``) and its tokenizer, for embeddings.

    Arguments as for :func:`load_causal_lm`; ``model=None`` is the embedded MiniLM.
    """
    return _load_model(
        "encoder",
        "AutoModel",
        model,
        device,
        dtype,
        model_kwargs,
        trust_remote_code,
        allow_pickle=allow_pickle,
    )


def _load_model(
    kind: str,
    auto_class: str,
    model: str | os.PathLike[str] | None,
    device: str | None,
    dtype: Any,
    model_kwargs: Mapping[str, Any] | None,
    trust_remote_code: bool,
    architecture_suffix: str | None = None,
    allow_pickle: bool = False,
) -> LoadedModel:
    source = resolve_model_source(model, kind=kind)
    _check_available(source, model_kwargs)
    dev = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, dev)
    kwargs = dict(model_kwargs or {})
    if kwargs.pop("trust_remote_code", False):
        msg = "pass trust_remote_code=True as its own option, not inside model_kwargs"
        raise ValueError(msg)
    if "use_safetensors" in kwargs:
        msg = "pass allow_pickle=True as its own option instead of use_safetensors in model_kwargs"
        raise ValueError(msg)
    key = model_cache_key(
        kind,
        source,
        dev,
        torch_dtype,
        {**kwargs, **({"allow_pickle": True} if allow_pickle else {})},
        trust_remote_code,
    )

    def _load() -> LoadedModel:
        hf = _hf_kwargs(source, trust_remote_code, kwargs)  # before any import: fast offline
        use_safetensors = _use_safetensors(source, allow_pickle)  # checked once, at load time
        weights, weights_hf = source, hf
        adapter = kind == "causal_lm" and os.path.isfile(os.path.join(source, ADAPTER_CONFIG))
        if adapter:  # a LoRA folder: the base's weights, the adapter merged in (as fast)
            require("peft")  # fails before anything loads
            weights = _adapter_base(source)
            weights_hf = _hf_kwargs(weights, trust_remote_code, kwargs)
        transformers = require("transformers")
        warn_slow_bf16(torch_dtype, dev)
        try:
            if architecture_suffix is not None:
                config = transformers.AutoConfig.from_pretrained(source, **hf)
                archs = list(getattr(config, "architectures", None) or [])
                if not any(a.endswith(architecture_suffix) for a in archs):
                    msg = (
                        f"model {source!r} is not a *{architecture_suffix} model: its "
                        f"architecture is {archs or 'not recorded in config.json'}"
                    )
                    raise TypeError(msg)
            tok = transformers.AutoTokenizer.from_pretrained(source, **hf)
            own = {k: v for k, v in weights_hf.items() if k not in kwargs}  # model_kwargs win
            mdl = getattr(transformers, auto_class).from_pretrained(
                weights, dtype=torch_dtype, use_safetensors=use_safetensors, **own, **kwargs
            )
            if adapter:
                mdl = require("peft").PeftModel.from_pretrained(mdl, source).merge_and_unload()
        except TypeError as e:
            raise ValueError(str(e)) from None
        except (OSError, ValueError) as e:
            err = _load_error(source, e)
            if not allow_pickle and "safetensors" in str(e).lower():
                err = OSError(f"{err} {_PICKLE_HINT}")
            raise err from e
        mdl.to(dev)
        mdl.eval()
        logger.info("loaded %s %s on %s (%s)", kind, source, dev, torch_dtype)
        return LoadedModel(mdl, tok, dev, torch_dtype, source)

    return _get_or_load(key, _load)


def _adapter_base(source: str) -> str:
    """The base LM of a LoRA adapter folder (``lingua distill align``).

    The base ``adapter_config.json`` names: a folder (also relative to the adapter's) or a hub
    id. When it names a folder that is not on this machine (a copy from elsewhere), the base's
    name in ``lingua_align.json`` (such as ``smollm2``) is used, with a warning.

    Raises:
        OSError: When the base is nowhere to be found.
    """
    import json

    folder = Path(source)
    config = json.loads((folder / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    base = str(config.get("base_model_name_or_path") or "")
    if base and os.path.isdir(base):
        return base
    if base and (folder / base).is_dir():
        return str(folder / base)
    if base and not base.startswith((".", "~", "/")) and not os.path.isabs(base):
        return base  # a hub id
    meta = folder / ALIGN_META
    alias = (
        json.loads(meta.read_text(encoding="utf-8")).get("base_model") if meta.is_file() else None
    )
    if not alias or alias == base:
        msg = (
            f"the base model of adapter folder {source!r}, {base or '(not recorded)'!r}, is not "
            "on this machine: set base_model_name_or_path in its adapter_config.json"
        )
        raise OSError(msg)
    found = resolve_model_source(alias, kind="causal_lm")
    logger.warning(
        "adapter %s: its base %r is not here; using %r (%s), the base it names in "
        "lingua_align.json: the adapter was trained on that model's weights only if they match",
        source,
        base,
        alias,
        found,
    )
    return found


_PICKLE_HINT = (
    "Weights load from safetensors only: pickle weights (pytorch_model.bin) can run code when "
    "loaded. Convert them (model.save_pretrained(folder, safe_serialization=True)) or, if you "
    "trust the checkpoint, pass allow_pickle=True."
)


def _use_safetensors(source: str, allow_pickle: bool) -> bool | None:
    """``use_safetensors`` for ``from_pretrained``.

    Without ``allow_pickle``: ``True`` (safetensors only); a local folder without safetensors
    weights is refused here, with the way out. With it: ``None`` (transformers prefers
    safetensors and falls back to pickle).

    Raises:
        OSError: For a local folder with pickle weights only, unless ``allow_pickle``.
    """
    if allow_pickle:
        return None
    if os.path.isdir(source):
        files = [p.name for p in Path(source).iterdir()]
        if not any(f.endswith(".safetensors") for f in files):
            pickled = [f for f in files if f.endswith((".bin", ".pt", ".pth", ".ckpt"))]
            what = (
                f"pickle weights only ({', '.join(sorted(pickled))})" if pickled else "no weights"
            )
            msg = f"model folder {source!r} holds {what}. {_PICKLE_HINT}"
            raise OSError(msg)
    return True
