"""LangChain adapter for lingua-rag: compress retrieved documents before they reach the LLM.

Importing this package is cheap: ``langchain_core`` (and any model) loads only when a class is
first accessed. :class:`LinguaCompressor` (a document compressor), :class:`LinguaRetriever` (a
retriever over another one), :class:`LinguaMiddleware` (agent middleware for ``create_agent``),
:class:`LinguaDocumentTransformer` (indexing time), and the embedded models as LangChain
components (:class:`LocalEmbeddings`, :class:`LocalChatModel`).

Example:
    >>> from langchain_lingua import LinguaCompressor
    >>> compressor = LinguaCompressor(method="random", rate=0.5)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lingua_core._deps import lazy_exports

if TYPE_CHECKING:
    from langchain_lingua.compressor import LinguaCompressor
    from langchain_lingua.middleware import LinguaMiddleware
    from langchain_lingua.models import LocalChatModel, LocalEmbeddings
    from langchain_lingua.retriever import LinguaRetriever
    from langchain_lingua.transformer import LinguaDocumentTransformer

__all__ = [
    "LinguaCompressor",
    "LinguaDocumentTransformer",
    "LinguaMiddleware",
    "LinguaRetriever",
    "LocalChatModel",
    "LocalEmbeddings",
]

_LAZY = {
    "LinguaCompressor": "langchain_lingua.compressor",
    "LinguaDocumentTransformer": "langchain_lingua.transformer",
    "LinguaMiddleware": "langchain_lingua.middleware",
    "LinguaRetriever": "langchain_lingua.retriever",
    "LocalChatModel": "langchain_lingua.models",
    "LocalEmbeddings": "langchain_lingua.models",
}


# The adapter classes import on first access (they need langchain_core); without it, an
# ImportError with the pip command to fix it; any other name, an AttributeError.
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
