"""A scripted chat model for agent tests: replies from a script, records what it receives."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from pydantic import Field


class Scripted(GenericFakeChatModel):
    """Replies from a script and records the messages of every call (tools: accepted, unused).

    Async calls run ``_generate`` in a thread (LangChain's default), so they are recorded too.
    """

    received: list[list[Any]] = Field(default_factory=list)

    def bind_tools(self, tools: Any, **kwargs: Any) -> Scripted:
        return self

    def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any):
        self.received.append(list(messages))
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kw)


def retrieval(query: str, n: int | str = 1, name: str = "retrieve") -> AIMessage:
    """The model's step that calls the retrieval tool ``name`` with ``query`` (call id ``n``)."""
    return AIMessage("", tool_calls=[{"name": name, "args": {"query": query}, "id": f"{n}"}])
