"""The base of every method whose scores come from one shared Hugging Face model.

It loads the model once (through :mod:`lingua_core.models`, shared with every compressor that
asks for the same model), warms it up on request, and counts tokens in the model's own tokenizer
by default. Subclasses say how their model loads (:meth:`ModelCompressor._load`) and which
scorer runs it (``_scorer``).

A compressor remembers why its model could not be loaded (a model that is not on this machine
while offline, a missing package, an invalid model): later calls raise the same error at once
instead of trying again. Create another compressor to try again.
"""

from __future__ import annotations

from typing import ClassVar, TypeVar

from lingua_core.base import Compressor
from lingua_core.models import LoadedModel
from lingua_core.models.hub import raise_again, remembered
from lingua_core.options import MethodOptions
from lingua_core.pipeline.tokens import TokenCounter, shared_counter

M = TypeVar("M", bound=MethodOptions)


class ModelCompressor(Compressor[M]):
    """A compressor backed by one shared model; subclasses implement :meth:`_load`."""

    uses_model = True
    #: The name the default token counter carries when no ``model=`` is given.
    default_model_name: ClassVar[str] = ""
    _load_failure: Exception | None = None

    def _load(self) -> LoadedModel:
        """Load the model (shared: the loaders keep one copy per model)."""
        raise NotImplementedError

    def _loaded(self) -> LoadedModel:
        """The loaded model (shared; loaded on first call; a remembered failure raised again).

        Raises:
            OSError: The load failure (:class:`lingua_core.models.ModelUnavailableError` for a
                model that is not on this machine while offline), at once after the first.
        """
        failure = self._load_failure
        if failure is not None:
            raise_again(failure)
        try:
            return self._load()
        except Exception as e:
            if remembered(e):
                self._load_failure = e
            raise

    def warmup(self) -> None:
        """Load the model and the token counter now."""
        self._loaded()
        super().warmup()

    def _model_fingerprints(self) -> list[str]:
        from lingua_core.stored.rows import model_fingerprint

        return [model_fingerprint(self._loaded())]

    def _default_counter(self) -> TokenCounter:
        name = self.default_model_name if self.model is None else str(self.model)
        return shared_counter(self._loaded(), name)
