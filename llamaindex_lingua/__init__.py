"""LlamaIndex adapter for lingua-rag: compress retrieved nodes before they reach the LLM.

Importing this package is cheap: ``llama_index.core`` (and any model) loads only when
:class:`LinguaPostprocessor` is first accessed.

Example:
    >>> from llamaindex_lingua import LinguaPostprocessor
    >>> postprocessor = LinguaPostprocessor(method="random", rate=0.5)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llamaindex_lingua.models import LocalEmbedding, LocalLLM
    from llamaindex_lingua.postprocessor import LinguaPostprocessor

__all__ = ["LinguaPostprocessor", "LocalEmbedding", "LocalLLM"]

_LAZY = {
    "LinguaPostprocessor": "llamaindex_lingua.postprocessor",
    "LocalEmbedding": "llamaindex_lingua.models",
    "LocalLLM": "llamaindex_lingua.models",
}


def __getattr__(name: str) -> Any:
    """Import the adapter classes on first access (they need ``llama_index.core``).

    Raises:
        ImportError: If ``llama_index.core`` is not installed, with the pip command to fix it.
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
