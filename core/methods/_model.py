"""The base of every method whose scores come from one shared Hugging Face model.

It loads the model once (through :mod:`lingua_core.models`, shared with every compressor that
asks for the same model), warms it up on request, and counts tokens in the model's own tokenizer
by default. Subclasses say how their model loads (:meth:`ModelCompressor._loaded`) and which
scorer runs it (``_scorer``).
"""

from __future__ import annotations

from typing import ClassVar, TypeVar

from lingua_core.base import Compressor
from lingua_core.models import LoadedModel
from lingua_core.options import MethodOptions
from lingua_core.tokens import TokenCounter, shared_counter

M = TypeVar("M", bound=MethodOptions)


class ModelCompressor(Compressor[M]):
    """A compressor backed by one shared model; subclasses implement :meth:`_loaded`."""

    uses_model = True
    #: The name the default token counter carries when no ``model=`` is given.
    default_model_name: ClassVar[str] = ""

    def _loaded(self) -> LoadedModel:
        """The loaded model (shared; loaded on first call)."""
        raise NotImplementedError

    def warmup(self) -> None:
        """Load the model and the token counter now."""
        self._loaded()
        super().warmup()

    def _model_fingerprints(self) -> list[str]:
        from lingua_core.models.rows import model_fingerprint

        return [model_fingerprint(self._loaded())]

    def _default_counter(self) -> TokenCounter:
        name = self.default_model_name if self.model is None else str(self.model)
        return shared_counter(self._loaded(), name)
