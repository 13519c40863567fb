"""Old module paths of lingua_core, kept for one release: each imports its new module and warns.

The core was regrouped by layer (docs/architecture.md). ``import lingua_core.text`` and
``from lingua_core.rank import bm25_scores`` still work until the next release: a finder on
``sys.meta_path`` answers only for the old names below, returns the new module itself (one
module object, so state and ``isinstance`` are shared) and emits a :class:`DeprecationWarning`
naming the new path. :func:`install` is called once by ``lingua_core/__init__.py``.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from collections.abc import Sequence
from types import ModuleType

#: Old module path -> new module path.
MOVED: dict[str, str] = {
    "lingua_core.adapters": "lingua_core.frameworks.settings",
    "lingua_core.cancel": "lingua_core.pipeline.cancel",
    "lingua_core.documents": "lingua_core.frameworks.documents",
    "lingua_core.embed": "lingua_core.scorers.embed",
    "lingua_core.generate": "lingua_core.models.generate",
    "lingua_core.languages": "lingua_core.pipeline.languages",
    "lingua_core.models.row_cache": "lingua_core.stored.row_cache",
    "lingua_core.models.rows": "lingua_core.stored.rows",
    "lingua_core.outcome": "lingua_core.pipeline.contract",
    "lingua_core.passages": "lingua_core.pipeline.passages",
    "lingua_core.rank": "lingua_core.scorers.rank",
    "lingua_core.select": "lingua_core.pipeline.select",
    "lingua_core.text": "lingua_core.pipeline.text",
    "lingua_core.tokens": "lingua_core.pipeline.tokens",
}


class _Alias(importlib.abc.Loader):
    """Loads an old path as the module at its new path."""

    def __init__(self, new: str) -> None:
        self.new = new

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        warnings.warn(
            f"{spec.name} moved to {self.new}; the old path goes in the next release",
            DeprecationWarning,
            stacklevel=2,
        )
        module = importlib.import_module(self.new)
        self._own_spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the new module is already loaded.

        The import machinery has just set the module's ``__spec__`` to the old path's; it
        gets its own back, so that it keeps its name (``importlib.reload`` included).
        """
        module.__spec__ = self._own_spec


class _Finder(importlib.abc.MetaPathFinder):
    """Answers for the old paths in :data:`MOVED` only."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        new = MOVED.get(fullname)
        if new is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, _Alias(new))


def install() -> None:
    """Put the finder on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.append(_Finder())
