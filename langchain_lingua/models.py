"""Local models as LangChain components: MiniLM embeddings and a SmolLM2 chat model (offline)."""

from __future__ import annotations

import asyncio
from typing import Any

from lingua_core._deps import require

require("langchain_core")

from langchain_core.callbacks import CallbackManagerForLLMRun  # noqa: E402
from langchain_core.embeddings import Embeddings  # noqa: E402
from langchain_core.language_models.chat_models import BaseChatModel  # noqa: E402
from langchain_core.messages import AIMessage, BaseMessage  # noqa: E402
from langchain_core.outputs import ChatGeneration, ChatResult  # noqa: E402
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr  # noqa: E402

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
            from lingua_core.embed import Embedder

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

    Greedy decoding with the model's chat template. A small, weak reader: for offline demos and
    tests of RAG pipelines, not for judging answers.
    """

    model: str | None = Field(None, description="Causal LM folder or hub id; None: SmolLM2.")
    device: str | None = Field(None, description="cpu, cuda, mps; None auto-detects.")
    max_new_tokens: int = Field(48, description="Most tokens generated per reply.")
    _reader: Any = PrivateAttr(default=None)

    @property
    def _llm_type(self) -> str:
        return "lingua-local"

    def _get(self) -> Any:
        if self._reader is None:
            from lingua_core.generate import Reader

            self._reader = Reader(
                self.model, device=self.device, max_new_tokens=self.max_new_tokens
            )
        return self._reader

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        chat = [{"role": _ROLES.get(m.type, "user"), "content": str(m.content)} for m in messages]
        reader = self._get()
        text = reader.generate(chat, stop=stop)
        usage = {"input_tokens": reader.prompt_tokens(chat)}
        message = AIMessage(content=text, response_metadata=usage)
        return ChatResult(generations=[ChatGeneration(message=message)])
