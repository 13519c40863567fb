"""Local models as LlamaIndex components: MiniLM embeddings and a SmolLM2 LLM (offline)."""

from __future__ import annotations

from typing import Any

from lingua_core._deps import missing

try:
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from llama_index.core.base.llms.types import (
        CompletionResponse,
        CompletionResponseGen,
        LLMMetadata,
    )
    from llama_index.core.llms.callbacks import llm_completion_callback
    from llama_index.core.llms.custom import CustomLLM
    from pydantic import Field, PrivateAttr
except ImportError as e:  # the framework is an extra of lingua-rag
    raise missing("llama_index.core") from e


class LocalEmbedding(BaseEmbedding):
    """Sentence embeddings from a local encoder (default: the embedded all-MiniLM-L6-v2)."""

    model: str | None = Field(None, description="Encoder folder or hub id; None: MiniLM.")
    device: str | None = Field(None, description="cpu, cuda, mps; None auto-detects.")
    _embedder: Any = PrivateAttr(default=None)

    @classmethod
    def class_name(cls) -> str:
        """Name used when the component is serialized."""
        return "LinguaLocalEmbedding"

    def _get(self) -> Any:
        if self._embedder is None:
            from lingua_core.scorers.embed import Embedder

            self._embedder = Embedder(self.model, device=self.device)
        return self._embedder

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._get().embed(texts).tolist()  # type: ignore[no-any-return]

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embeddings([text])[0]

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._get_text_embedding(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)


class LocalLLM(CustomLLM):
    """A completion LLM over a local causal LM (default: the embedded SmolLM2-135M-Instruct).

    The prompt goes in as one user message of the model's chat template; greedy decoding. A
    small, weak reader: for offline demos and tests.
    """

    model: str | None = Field(None, description="Causal LM folder or hub id; None: SmolLM2.")
    device: str | None = Field(None, description="cpu, cuda, mps; None auto-detects.")
    max_new_tokens: int = Field(48, description="Most tokens generated per reply.")
    _reader: Any = PrivateAttr(default=None)

    @classmethod
    def class_name(cls) -> str:
        """Name used when the component is serialized."""
        return "LinguaLocalLLM"

    @property
    def metadata(self) -> LLMMetadata:
        """Context window and output size of the embedded model."""
        return LLMMetadata(
            context_window=8192,
            num_output=self.max_new_tokens,
            model_name=self.model or "smollm2-135m-instruct",
        )

    def _get(self) -> Any:
        if self._reader is None:
            from lingua_core.models.generate import Reader

            self._reader = Reader(
                self.model, device=self.device, max_new_tokens=self.max_new_tokens
            )
        return self._reader

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        """The model's reply to ``prompt``."""
        return CompletionResponse(text=self._get().generate([{"role": "user", "content": prompt}]))

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        """The reply as one chunk (no token streaming)."""
        response = self.complete(prompt, formatted=formatted, **kwargs)

        def gen() -> CompletionResponseGen:
            yield CompletionResponse(text=response.text, delta=response.text)

        return gen()
