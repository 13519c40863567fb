"""lingua-rag core: compress retrieved context before it reaches the LLM.

Importing this package is cheap: torch and transformers load when a model is first needed.

Example:
    >>> from lingua_core import get_compressor
    >>> compressor = get_compressor("random", seed=1)
    >>> all(r.rate <= 0.6 for r in compressor.compress(["a b c d e f g h i j"], rate=0.5))
    True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lingua_core import _moved
from lingua_core._deps import lazy_exports
from lingua_core.base import ELISION, CompressionResult, Compressor, join_results, join_spans
from lingua_core.models import clear_models
from lingua_core.pipeline.recover import recover
from lingua_core.pipeline.tokens import TokenCounter, get_token_counter
from lingua_core.registry import DEFAULT_METHOD, available_methods, get_compressor

if TYPE_CHECKING:
    from lingua_core.compressors import (
        BM25,
        CoarseToFine,
        EmbeddingsFilter,
        LLMLingua,
        LLMLingua2,
        LongLLMLingua,
        Naive,
        NoCompression,
        Pruner,
        Random,
        SelectiveContext,
        SentenceEmbeddings,
    )
    from lingua_core.serve import RemoteCompressor

__all__ = [
    "BM25",
    "DEFAULT_METHOD",
    "ELISION",
    "CoarseToFine",
    "CompressionResult",
    "Compressor",
    "EmbeddingsFilter",
    "LLMLingua",
    "LLMLingua2",
    "LongLLMLingua",
    "Naive",
    "NoCompression",
    "Pruner",
    "Random",
    "RemoteCompressor",
    "SelectiveContext",
    "SentenceEmbeddings",
    "TokenCounter",
    "available_methods",
    "clear_models",
    "get_compressor",
    "get_token_counter",
    "join_results",
    "join_spans",
    "recover",
]
__version__ = "0.1.0"
_moved.install()

# The typed constructors (lingua_core.compressors) import on first access.
_TYPED = [
    name
    for name in __all__
    if name[0].isupper() and name not in globals() and name != "RemoteCompressor"
]
__getattr__, __dir__ = lazy_exports(
    __name__,
    {**dict.fromkeys(_TYPED, "lingua_core.compressors"), "RemoteCompressor": "lingua_core.serve"},
)
