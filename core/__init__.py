"""lingua-rag core: compress retrieved context before it reaches the LLM.

Importing this package is cheap: torch and transformers load when a model is first needed.

Example:
    >>> from lingua_core import get_compressor
    >>> compressor = get_compressor("random", seed=1)
    >>> all(r.rate <= 0.6 for r in compressor.compress(["a b c d e f g h i j"], rate=0.5))
    True
"""

from __future__ import annotations

from lingua_core.base import CompressionResult, Compressor, join_results
from lingua_core.models import clear_models
from lingua_core.recover import recover
from lingua_core.registry import DEFAULT_METHOD, available_methods, get_compressor
from lingua_core.tokens import TokenCounter, get_token_counter

__all__ = [
    "DEFAULT_METHOD",
    "CompressionResult",
    "Compressor",
    "TokenCounter",
    "available_methods",
    "clear_models",
    "get_compressor",
    "get_token_counter",
    "join_results",
    "recover",
]
__version__ = "0.1.0"
