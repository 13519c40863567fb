"""The method registry: name or alias -> compressor class (imported on first use)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lingua_core.base import Compressor

#: Method used when none is named: question-aware coarse-to-fine selection on the embedded
#: MiniLM (see :mod:`lingua_core.methods.coarse_to_fine`).
DEFAULT_METHOD = "coarse_to_fine"
#: Default at indexing time, where there is no query: Selective Context on the embedded SmolLM2.
INDEXING_METHOD = "selective_context"


@dataclass(frozen=True)
class MethodEntry:
    """Where a method's class lives."""

    module: str
    cls: str


@dataclass(frozen=True)
class Alias:
    """Another name for a method, optionally with preset options (e.g. a model)."""

    method: str
    preset: Mapping[str, Any] = field(default_factory=dict)


METHODS: dict[str, MethodEntry] = {
    "selective_context": MethodEntry(
        "lingua_core.methods.selective_context", "SelectiveContextCompressor"
    ),
    "llmlingua": MethodEntry("lingua_core.methods.llmlingua", "LLMLinguaCompressor"),
    "longllmlingua": MethodEntry("lingua_core.methods.llmlingua", "LongLLMLinguaCompressor"),
    "llmlingua2": MethodEntry("lingua_core.methods.llmlingua2", "LLMLingua2Compressor"),
    "coarse_to_fine": MethodEntry("lingua_core.methods.coarse_to_fine", "CoarseToFineCompressor"),
    "embeddings_filter": MethodEntry("lingua_core.methods.embedding", "EmbeddingsFilterCompressor"),
    "sentence_embeddings": MethodEntry(
        "lingua_core.methods.embedding", "SentenceEmbeddingsCompressor"
    ),
    "bm25": MethodEntry("lingua_core.methods.embedding", "BM25Compressor"),
    "pruner": MethodEntry("lingua_core.methods.pruner", "PrunerCompressor"),
    "random": MethodEntry("lingua_core.methods.baselines", "RandomCompressor"),
    "naive": MethodEntry("lingua_core.methods.baselines", "NaiveCompressor"),
    "none": MethodEntry("lingua_core.methods.baselines", "NoneCompressor"),
}

ALIASES: dict[str, Alias] = {
    "selective-context": Alias("selective_context"),
    "sc": Alias("selective_context"),
    "default": Alias(DEFAULT_METHOD),
    "identity": Alias("none"),
    "c2f": Alias("coarse_to_fine"),
    "coarse-to-fine": Alias("coarse_to_fine"),
    "embeddings-filter": Alias("embeddings_filter"),
    "sentence-embeddings": Alias("sentence_embeddings"),
    "llmlingua-2": Alias("llmlingua2"),
    "llmlingua-1": Alias("llmlingua"),
    "long-llmlingua": Alias("longllmlingua"),
    "llmlingua2-xlm-roberta": Alias(
        "llmlingua2", {"model": "microsoft/llmlingua-2-xlm-roberta-large-meetingbank"}
    ),
    "learned-pruner": Alias("pruner"),
    "provence": Alias("pruner", {"model": "naver/provence-reranker-debertav3-v1"}),
    "xprovence": Alias("pruner", {"model": "naver/xprovence-reranker-bgem3-v1"}),
    "open-provence": Alias("pruner", {"model": "hotchpotch/open-provence-reranker-xsmall-v1"}),
    "open-provence-en": Alias(
        "pruner", {"model": "hotchpotch/open-provence-reranker-v1-gte-modernbert-base"}
    ),
    "semantic-highlight": Alias("pruner", {"model": "zilliz/semantic-highlight-bilingual-v1"}),
    "verbatim-rag": Alias("pruner", {"model": "KRLabsOrg/verbatim-rag-modern-bert-v2"}),
    "llmlingua2-bert": Alias(
        "llmlingua2", {"model": "microsoft/llmlingua-2-bert-base-multilingual-cased-meetingbank"}
    ),
}


def available_methods() -> list[str]:
    """Names of the registered methods (aliases not included)."""
    return sorted(METHODS)


def methods_that(capability: str) -> list[str]:
    """Names of the registered methods whose class sets the flag ``capability``.

    For example ``"stores_scores"`` or ``"supports_auto_rate"``: what an error message lists as
    the valid choices.

    Raises:
        ValueError: For a name that is not a capability flag of :class:`Compressor`.
    """
    from lingua_core.base import CAPABILITIES

    if capability not in CAPABILITIES:
        msg = f"unknown capability {capability!r}; valid: {', '.join(CAPABILITIES)}"
        raise ValueError(msg)
    return [m for m in available_methods() if getattr(method_class(m), capability)]


def resolve(name: str) -> tuple[str, dict[str, Any]]:
    """The method name and preset options for a method name or alias.

    Raises:
        ValueError: For an unknown name, listing the known ones.
    """
    if not isinstance(name, str):
        msg = f"method must be a str, got {type(name).__name__}"
        raise TypeError(msg)
    key = name.strip().lower()
    if key in METHODS:
        return key, {}
    alias = ALIASES.get(key) or ALIASES.get(key.replace("_", "-"))
    if alias is None:
        msg = (
            f"unknown method {name!r}; known methods: {', '.join(available_methods())} "
            f"(aliases: {', '.join(sorted(ALIASES))})"
        )
        raise ValueError(msg)
    return alias.method, dict(alias.preset)


def method_class(name: str) -> type[Compressor[Any]]:
    """The compressor class of a method name or alias."""
    method, _ = resolve(name)
    entry = METHODS[method]
    module = importlib.import_module(entry.module)
    return getattr(module, entry.cls)  # type: ignore[no-any-return]


def get_compressor(method: str = DEFAULT_METHOD, **options: Any) -> Compressor[Any]:
    """Create a compressor.

    Args:
        method: A name from :func:`available_methods` or an alias.
        **options: Defaults for every call: ``model``, ``device``, ``dtype``, ``model_kwargs``,
            ``token_counter``, ``trust_remote_code``, and the method's own options.

    Returns:
        The compressor. Models load on first use (or at :meth:`Compressor.warmup`).

    Raises:
        ValueError: For an unknown method or option.
    """
    name, preset = resolve(method)
    cls = method_class(name)
    return cls(**{**preset, **options})
