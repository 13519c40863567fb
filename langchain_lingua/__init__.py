"""LangChain adapter for lingua-rag: compress retrieved documents before they reach the LLM.

Importing this package is cheap: ``langchain_core`` (and any model) loads only when
:class:`LinguaCompressor` is first accessed.

Example:
    >>> from langchain_lingua import LinguaCompressor
    >>> compressor = LinguaCompressor(method="random", rate=0.5)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langchain_lingua.compressor import LinguaCompressor
    from langchain_lingua.models import LocalChatModel, LocalEmbeddings
    from langchain_lingua.transformer import LinguaDocumentTransformer

__all__ = ["LinguaCompressor", "LinguaDocumentTransformer", "LocalChatModel", "LocalEmbeddings"]

_LAZY = {
    "LinguaCompressor": "langchain_lingua.compressor",
    "LinguaDocumentTransformer": "langchain_lingua.transformer",
    "LocalChatModel": "langchain_lingua.models",
    "LocalEmbeddings": "langchain_lingua.models",
}


def __getattr__(name: str) -> Any:
    """Import the adapter classes on first access (they need ``langchain_core``).

    Raises:
        ImportError: If ``langchain_core`` is not installed, with the pip command to fix it.
        AttributeError: For any other name.
    """
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
