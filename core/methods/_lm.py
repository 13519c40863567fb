"""Shared base for methods that score with a causal LM (Selective Context, LLMLingua family)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from lingua_core.methods._model import ModelCompressor
from lingua_core.models import EMBEDDED_CAUSAL_LM, LoadedModel, load_causal_lm
from lingua_core.options import MethodOptions, is_int, max_wait_option, option


def _positive_int(v: Any) -> bool:
    return is_int(v) and v > 0


@dataclass(frozen=True)
class LMOptions(MethodOptions):
    """The options of every causal-LM method: how the LM runs."""

    window: int = option(
        1024,
        "Most tokens the LM scores per forward row; longer texts are scored in windows.",
        check=_positive_int,
        expect="a positive int",
    )
    batch_tokens: int | None = option(
        None,
        "Most padded tokens per forward pass (bounds memory). None: 1024 on CPU (larger batches "
        "are slower there), 16384 on CUDA.",
        check=lambda v: v is None or _positive_int(v),
        expect="None or a positive int",
    )
    max_wait_ms: float = max_wait_option()


L = TypeVar("L", bound=LMOptions)


class CausalLMCompressor(ModelCompressor[L]):
    """A compressor whose scores come from a causal LM, loaded once and shared."""

    default_model_name = EMBEDDED_CAUSAL_LM

    def _load(self) -> LoadedModel:
        return load_causal_lm(
            self.model,
            device=self.device,
            dtype=self.dtype,
            model_kwargs=self.model_kwargs,
            trust_remote_code=self.trust_remote_code,
            allow_pickle=self.allow_pickle,
        )

    def _scorer(self, opts: L) -> Any:
        from lingua_core.scorers.lm import CausalLMScorer

        return CausalLMScorer(
            self._loaded(),
            window=opts.window,
            batch_tokens=opts.batch_tokens,
            max_wait_ms=opts.max_wait_ms,
        )
