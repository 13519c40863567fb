"""Local models as LangChain components: MiniLM embeddings and a SmolLM2 chat model (offline)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

from lingua_core._deps import missing
from lingua_core.models import EMBEDDED_CAUSAL_LM

try:
    from langchain_core.callbacks import CallbackManagerForLLMRun
    from langchain_core.embeddings import Embeddings
    from langchain_core.language_models import LangSmithParams
    from langchain_core.language_models.chat_models import BaseChatModel
    from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
    from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
    from pydantic import BaseModel, ConfigDict, Field, PrivateAttr
except ImportError as e:  # the framework is an extra of lingua-rag
    raise missing("langchain_core") from e

_ROLES = {"system": "system", "human": "user", "ai": "assistant", "user": "user"}


class LocalEmbeddings(BaseModel, Embeddings):
    """Sentence embeddings from a local encoder (default: the embedded all-MiniLM-L6-v2).

    Example:
        >>> from langchain_core.vectorstores import InMemoryVectorStore
        >>> store = InMemoryVectorStore(LocalEmbeddings())  # doctest: +SKIP
    """

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(None, description="Encoder folder or hub id; None: MiniLM.")
    device: str | None = Field(None, description="cpu, cuda, mps; None auto-detects.")
    batch_size: int = Field(32, description="Texts per forward pass.")
    _embedder: Any = PrivateAttr(default=None)

    def _get(self) -> Any:
        if self._embedder is None:
            from lingua_core.scorers.embed import Embedder

            self._embedder = Embedder(self.model, device=self.device, batch_size=self.batch_size)
        return self._embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One unit-length vector per text."""
        return self._get().embed(texts).tolist()  # type: ignore[no-any-return]

    def embed_query(self, text: str) -> list[float]:
        """The query's vector."""
        return self.embed_documents([text])[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """:meth:`embed_documents` in a worker thread."""
        return await asyncio.to_thread(self.embed_documents, texts)

    async def aembed_query(self, text: str) -> list[float]:
        """:meth:`embed_query` in a worker thread."""
        return await asyncio.to_thread(self.embed_query, text)


class LocalChatModel(BaseChatModel):
    """A chat model over a local causal LM (default: the embedded SmolLM2-135M-Instruct).

    Greedy decoding with the model's chat template; streams token by token; ``model=`` in a call
    (``invoke(..., model="folder")``) answers with another local model. A small, weak
    reader: for offline demos and tests of RAG pipelines, not for judging answers.
    """

    model: str | None = Field(None, description="Causal LM folder or hub id; None: SmolLM2.")
    device: str | None = Field(None, description="cpu, cuda, mps; None auto-detects.")
    max_new_tokens: int = Field(48, description="Most tokens generated per reply.")
    _readers: dict[str | None, Any] = PrivateAttr(default_factory=dict)

    @property
    def _llm_type(self) -> str:
        return "lingua-local"

    def _get(self, model: str | None = None) -> Any:
        """The reader of ``model`` (a per-call override), else of the instance's model."""
        name = model or self.model
        if name not in self._readers:
            from lingua_core.models.generate import Reader

            self._readers[name] = Reader(
                name, device=self.device, max_new_tokens=self.max_new_tokens
            )
        return self._readers[name]

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = "lingua"
        params["ls_model_name"] = kwargs.get("model") or self.model or EMBEDDED_CAUSAL_LM
        params["ls_max_tokens"] = self.max_new_tokens
        params["ls_temperature"] = 0.0
        return params

    @staticmethod
    def _chat(messages: list[BaseMessage]) -> list[dict[str, str]]:
        return [{"role": _ROLES.get(m.type, "user"), "content": m.text} for m in messages]

    def _metadata(self, reader: Any, chat: list[dict[str, str]]) -> dict[str, Any]:
        return {
            "model_name": reader.model or EMBEDDED_CAUSAL_LM,
            "input_tokens": reader.prompt_tokens(chat),
        }

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        chat = self._chat(messages)
        reader = self._get(kwargs.get("model"))
        text = reader.generate(chat, stop=stop)
        usage = self._metadata(reader, chat)
        message = AIMessage(content=text, response_metadata=usage)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        chat = self._chat(messages)
        reader = self._get(kwargs.get("model"))
        for piece in reader.stream(chat, stop=stop):
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
            if run_manager is not None:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk
        usage = self._metadata(reader, chat)
        yield ChatGenerationChunk(
            message=AIMessageChunk(content="", response_metadata=usage, chunk_position="last")
        )
