"""Loading question-aware pruners of every family from a folder or a hub id, with our own code.

:func:`detect_layout` reads only ``config.json``, ``lingua_pruner.json`` and the safetensors
header (no torch), :func:`load_pruner` builds the network
(:mod:`lingua_core.models.pruner_layouts`), loads the weights (safetensors only,
``trust_remote_code`` never needed) and shares the loaded model like every other model. Each
family's published defaults travel with it as a :class:`PrunerSpec`: threshold, window, how token
probabilities become a sentence decision, and what the relevance score is.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lingua_core._deps import require
from lingua_core.models.devices import resolve_device, resolve_dtype
from lingua_core.models.embedded import resolve_model_source
from lingua_core.models.hub import hub_kwargs
from lingua_core.models.loading import _check_available, _get_or_load, model_cache_key
from lingua_core.models.worker import LoadedModel

#: The layouts :func:`load_pruner` reads.
LAYOUTS = ("lingua", "provence", "open_provence", "token_classifier")
#: The pruner lingua-rag ships inside the package (trained on the embedded MiniLM).
EMBEDDED_PRUNER = "lingua-pruner"
_EMBEDDED_DIR = Path(__file__).resolve().parents[1] / "assets" / "pruner-minilm-v2"
#: Sentence rules: ``mean`` keeps a sentence whose tokens' mean keep probability passes the
#: threshold (OpenProvence, Zilliz, lingua-rag); ``decisions`` keeps one where more than the
#: threshold's share of its tokens pass it (naver Provence, as its ports describe it).
SENTENCE_RULES = ("mean", "decisions")


@dataclass(frozen=True)
class PrunerSpec:
    """What a pruner family publishes beside its weights.

    Attributes:
        layout: One of :data:`LAYOUTS`.
        family: Human name of the family.
        threshold: The published default threshold (``rate="auto"``).
        window: Most tokens per forward row, special tokens included.
        sentence_rule: One of :data:`SENTENCE_RULES`.
        relevance: ``"probability"`` (in [0, 1]), ``"logit"`` (unbounded) or ``"max_token"``.
        normalize_question: Lower-case the question and strip its punctuation (Provence).
        verified: Whether the layout was read from the family's public code (``False``: inferred
            from its description).
    """

    layout: str
    family: str
    threshold: float
    window: int
    sentence_rule: str = "mean"
    relevance: str = "probability"
    normalize_question: bool = False
    verified: bool = True


def embedded_pruner_path() -> Path:
    """Folder of the embedded pruner (a 21 MB delta over the embedded MiniLM).

    Raises:
        FileNotFoundError: When this copy of lingua-rag was built without it.
    """
    if not (_EMBEDDED_DIR / "lingua_pruner.json").is_file():
        msg = f"the embedded pruner is missing from this installation ({_EMBEDDED_DIR})"
        raise FileNotFoundError(msg)
    return _EMBEDDED_DIR


def safetensors_keys(path: str | Path) -> dict[str, list[int]]:
    """Tensor names and shapes from a safetensors file's header (no tensor is read)."""
    with open(path, "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        header: dict[str, Any] = json.loads(f.read(size))
    return {k: list(v["shape"]) for k, v in header.items() if k != "__metadata__"}


def _weights(folder: Path) -> list[Path]:
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        pickled = sorted(p.name for p in folder.glob("*.bin"))
        what = f"pickle weights only ({', '.join(pickled)})" if pickled else "no weights"
        msg = (
            f"pruner folder {str(folder)!r} holds {what}: pruners load from safetensors only "
            "(convert with model.save_pretrained(folder, safe_serialization=True))"
        )
        raise OSError(msg)
    return files


def detect_layout(folder: str | Path) -> str:
    """The layout of a pruner folder, from its config and weight names.

    Raises:
        ValueError: For a folder that is no known pruner, naming the layouts read.
    """
    folder = Path(folder)
    if (folder / "lingua_pruner.json").is_file():
        return "lingua"
    cfg_path = folder / "config.json"
    if not cfg_path.is_file():
        msg = f"{folder} has no config.json or lingua_pruner.json: not a pruner folder"
        raise ValueError(msg)
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    if cfg.get("model_type") == "open_provence" or "base_model_config" in cfg:
        return "open_provence"
    keys: set[str] = set()
    for f in _weights(folder):
        keys |= set(safetensors_keys(f))
    if "classifier.weight" in keys and "token_classifier.weight" in keys:
        return "provence"
    archs = cfg.get("architectures") or []
    if any(str(a).endswith("ForTokenClassification") for a in archs):
        return "token_classifier"
    msg = (
        f"{folder} is not a pruner this version reads (architectures {archs}); layouts: "
        f"{', '.join(LAYOUTS)}: lingua-rag's own, naver Provence / XProvence, OpenProvence / "
        "Zilliz semantic-highlight, a token classifier (verbatim-rag)"
    )
    raise ValueError(msg)


def spec_of(layout: str, folder: Path) -> PrunerSpec:
    """The family defaults of a pruner folder."""
    if layout == "lingua":
        from lingua_core.models.pruner_net import read_meta

        meta = read_meta(folder)
        return PrunerSpec(
            "lingua",
            "lingua-rag",
            float(meta.get("threshold", 0.5)),
            int(meta.get("max_length", 256)),
        )
    cfg = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    if layout == "provence":
        return PrunerSpec(
            "provence", "Provence", 0.1, 512, "decisions", "logit", normalize_question=True
        )
    if layout == "open_provence":
        zilliz = "bge-reranker" in str(cfg.get("base_model_name_or_path", "")) or str(
            cfg.get("encoder_architecture", "")
        ).startswith("xlm")
        threshold = cfg.get("default_threadshold", cfg.get("default_threshold", 0.1))
        return PrunerSpec(
            "open_provence",
            "Zilliz semantic-highlight" if zilliz else "OpenProvence",
            float(threshold if threshold is not None else 0.1),
            int(cfg.get("max_length") or 512),
            verified=not zilliz,
        )
    window = min(512, int(cfg.get("max_position_embeddings") or 512))
    return PrunerSpec("token_classifier", "token classifier", 0.2, window, relevance="max_token")


def _local_folder(source: str, model_kwargs: Mapping[str, Any] | None) -> Path:
    """A local folder for ``source``: itself, or the hub snapshot (offline rules apply)."""
    if os.path.isdir(source):
        return Path(source)
    hf = hub_kwargs(source, model_kwargs)  # raises at once for an uncached id while offline
    hub = require("huggingface_hub")
    kw = {k: v for k, v in (model_kwargs or {}).items() if k in ("revision", "cache_dir", "token")}
    path = hub.snapshot_download(
        source,
        allow_patterns=["*.json", "*.safetensors", "*.txt", "*.model", "*.tiktoken"],
        local_files_only=bool(hf.get("local_files_only")),
        **kw,
    )
    return Path(path)


def resolve_pruner_source(model: str | os.PathLike[str] | None) -> str:
    """``None`` or :data:`EMBEDDED_PRUNER` → the embedded folder; else a folder or a hub id."""
    if model is None or os.fspath(model) in (EMBEDDED_PRUNER, "embedded"):
        return str(embedded_pruner_path())
    return resolve_model_source(model, kind="pruner")


def load_pruner(
    model: str | os.PathLike[str] | None = None,
    *,
    device: str | None = None,
    dtype: Any = "auto",
    model_kwargs: Mapping[str, Any] | None = None,
) -> LoadedModel:
    """Load (once, shared) a pruner of any layout; ``facts["pruner_spec"]`` holds its spec.

    Args:
        model: ``None`` (the embedded pruner), a folder or a hub id of any :data:`LAYOUTS`.
        device: ``None`` auto-detects.
        dtype: ``"auto"`` (fp32 on CPU), or a name in :data:`lingua_core.models.DTYPES`.
        model_kwargs: ``revision`` / ``cache_dir`` for hub ids.

    Raises:
        FileNotFoundError: For a folder that does not exist.
        ModelUnavailableError: For a hub id not on this machine while offline.
        ValueError: For a folder that is no known pruner, or weights that do not fit.
        OSError: For a folder without safetensors weights.
    """
    source = resolve_pruner_source(model)
    _check_available(source, model_kwargs)
    dev = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, dev)
    key = model_cache_key("pruner", source, dev, torch_dtype, model_kwargs, False)

    def _load() -> LoadedModel:
        folder = _local_folder(source, model_kwargs)
        layout = detect_layout(folder)
        spec = spec_of(layout, folder)
        net, tok = _build(layout, folder)
        net.to(dev, dtype=torch_dtype)
        net.eval()
        loaded = LoadedModel(net, tok, dev, torch_dtype, source)
        loaded.facts["pruner_spec"] = spec
        return loaded

    return _get_or_load(key, _load)


def load_lingua_folder(folder: Path) -> tuple[Any, Any]:
    """A lingua-rag pruner folder's network (fp32, eval mode) and tokenizer.

    A delta folder loads over its backbone (``"backbone"`` in ``lingua_pruner.json``, resolved
    like any encoder: the embedded MiniLM offline); a whole folder loads alone.
    """
    from lingua_core.models.pruner_net import load_pruner_folder, read_meta

    backbone = read_meta(folder).get("backbone")
    base = None if backbone is None else resolve_model_source(backbone, kind="encoder")
    hf = hub_kwargs(base) if base is not None else {"local_files_only": True}
    net, tok, _ = load_pruner_folder(folder, base, hf_kwargs=hf)
    return net, tok


def _build(layout: str, folder: Path) -> tuple[Any, Any]:
    require("torch")
    transformers = require("transformers")
    from lingua_core.models import pruner_layouts as layouts

    if layout == "lingua":
        net, tok = load_lingua_folder(folder)
        return layouts.LinguaNet(net), tok
    from safetensors.torch import load_file

    state: dict[str, Any] = {}
    for f in _weights(folder):
        state.update(load_file(str(f)))
    raw = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    tok = transformers.AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    return layouts.build(layout, raw, state), tok
