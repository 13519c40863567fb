"""LlamaIndex adapter for lingua-rag: compress retrieved nodes before they reach the LLM.

Importing this package is cheap: ``llama_index.core`` (and any model) loads only when
:class:`LinguaPostprocessor` is first accessed.

Example:
    >>> from llamaindex_lingua import LinguaPostprocessor
    >>> postprocessor = LinguaPostprocessor(method="random", rate=0.5)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lingua_core._deps import lazy_exports

if TYPE_CHECKING:
    from llamaindex_lingua.models import LocalEmbedding, LocalLLM
    from llamaindex_lingua.postprocessor import LinguaPostprocessor

__all__ = ["LinguaPostprocessor", "LocalEmbedding", "LocalLLM"]

_LAZY = {
    "LinguaPostprocessor": "llamaindex_lingua.postprocessor",
    "LocalEmbedding": "llamaindex_lingua.models",
    "LocalLLM": "llamaindex_lingua.models",
}


# The adapter classes import on first access (they need llama_index.core); without it, an
# ImportError with the pip command to fix it; any other name, an AttributeError.
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
