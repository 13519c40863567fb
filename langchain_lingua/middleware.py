"""``LinguaMiddleware``: an agent's retrieved documents compressed before its model reads them.

LangChain 1.x builds RAG as an agent (``langchain.agents.create_agent``) that calls a retrieval
tool; the documents come back as a ``ToolMessage`` and reach the model whole, call after call.
This middleware compresses each such result as the tool returns it (``wrap_tool_call``) and,
with ``context_budget``, fits all of them in the model's context at each model call
(``wrap_model_call``), the older ones compressed harder, always from their original documents.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

from lingua_core._deps import missing
from lingua_core.frameworks.documents import STATS_KEY, fit_newest_first
from lingua_core.models._lru import LRU

try:
    from langchain.agents.middleware import (
        AgentMiddleware,
        ModelRequest,
        ModelResponse,
        ToolCallRequest,
    )
    from langchain_core.documents import Document
    from langchain_core.messages import AnyMessage, HumanMessage, ToolMessage
    from langchain_core.runnables.config import ensure_config
    from langgraph.types import Command
except ImportError as e:  # the framework is an extra of lingua-rag
    raise missing("langchain") from e

from langchain_lingua.compressor import (
    LinguaCompressor,
    acompress_with,
    aemit,
    compress_with,
    emit,
)

logger = logging.getLogger(__name__)

#: Where the question comes from: the tool call's ``query_arg`` argument (the last human
#: message when the call has none), or always the last human message.
QueryFrom = Literal["args", "human"]
#: How many tool results' original documents are kept for ``context_budget`` (least recently
#: used first out), and how many budgeted versions of each.
KEEP_ORIGINALS = 256
KEEP_FITTED = 4


def _digest(content: Any) -> str:
    return hashlib.blake2b(str(content).encode("utf-8"), digest_size=16).hexdigest()


@dataclass
class _Original:
    """A compressed tool result's inputs, what it became, and its versions under budgets.

    ``digest`` is the compressed content's: a message whose content differs (another
    conversation that reused the tool call id) is not this result.
    """

    documents: list[Document]
    query: str | None
    digest: str
    fitted: LRU  # budget -> its ToolMessage


class LinguaMiddleware(AgentMiddleware):
    """Compress the documents an agent's tools retrieve, before the model sees them.

    A tool result is compressed when its artifact is a list of ``Document`` (a tool made with
    ``response_format="content_and_artifact"``, as ``create_retriever_tool`` makes one) and,
    with ``tools``, when the tool is one of them. The ``ToolMessage``'s content becomes the
    compressed documents joined by ``document_separator``; its artifact, the compressed
    documents (same ids, metadata, the stats in ``metadata["lingua"]``), so citations survive;
    its ``response_metadata["lingua"]``, the call's stats, also sent as the
    ``"lingua_compression"`` custom event. Sync and async agents alike (``invoke``/``ainvoke``).

    With ``context_budget`` (tokens, in the compressor's counter) the compressed results in the
    conversation are fitted into that budget at every model call, newest first: the first
    result that no longer fits is compressed again from its original documents to what is left,
    the older ones to a token each (what the method keeps of that: often nothing), never
    compressing compressed text. The budget is met as closely as the method meets
    ``target_tokens``. A result whose originals this middleware does not hold (a conversation
    restored in another process, one of more than :data:`KEEP_ORIGINALS` results ago) is kept
    as it is. The conversation state keeps each result as compressed when the tool returned it;
    only what the model reads changes.

    Args:
        tools: Names of the tools whose results are compressed; None: every tool whose
            artifact is a list of documents.
        query_from: ``"args"``: the tool call's ``query_arg`` argument is the question (the last
            human message when the call has none); ``"human"``: the last human message.
        query_arg: The tool argument that holds the query (``create_retriever_tool``: "query").
        context_budget: Tokens for all compressed tool results together at a model call; None:
            no budget across results.
        document_separator: Joins the compressed documents into the message content
            (``create_retriever_tool``'s default).
        **settings: The settings :class:`LinguaCompressor` takes (``method``, ``rate``,
            ``target_tokens``, ``options``, ``on_error``, ``endpoint``, ...).

    Raises:
        ValueError: For invalid settings, naming the valid choices.

    Example:
        >>> from langchain.agents import create_agent
        >>> agent = create_agent(model, tools=[retrieve], middleware=[LinguaMiddleware(rate=0.33)])
        ... # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        tools: Sequence[str] | None = None,
        query_from: QueryFrom = "args",
        query_arg: str = "query",
        context_budget: int | None = None,
        document_separator: str = "\n\n",
        **settings: Any,
    ) -> None:
        super().__init__()
        if query_from not in get_args(QueryFrom):
            msg = f"query_from must be one of {', '.join(get_args(QueryFrom))}; got {query_from!r}"
            raise ValueError(msg)
        if tools is not None and (
            isinstance(tools, str) or not tools or not all(isinstance(t, str) for t in tools)
        ):
            msg = (
                f"tools must be None (every tool) or a non-empty list of tool names, got {tools!r}"
            )
            raise ValueError(msg)
        if context_budget is not None and (
            isinstance(context_budget, bool)
            or not isinstance(context_budget, int)
            or context_budget < 1
        ):
            msg = f"context_budget must be None or an int >= 1, got {context_budget!r}"
            raise ValueError(msg)
        self.compressor = LinguaCompressor(**settings)
        self.tool_names = None if tools is None else frozenset(tools)
        self.query_from = query_from
        self.query_arg = query_arg
        self.context_budget = context_budget
        self.document_separator = document_separator
        self.tools = []  # the middleware registers no tool of its own
        self._originals = LRU(KEEP_ORIGINALS)  # tool call id -> _Original

    # ------------------------------------------------------------------ tool results

    def wrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], ToolMessage | Command[Any]],
    ) -> ToolMessage | Command[Any]:
        """Run the tool, then compress its documents."""
        result = handler(request)
        found = self._documents(request, result)
        if found is None:
            return result
        message, docs, query = found
        out, stats = compress_with(self.compressor, docs, query)
        emit(stats, ensure_config())
        return self._replace(message, docs, query, out, stats)

    async def awrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], Awaitable[ToolMessage | Command[Any]]],
    ) -> ToolMessage | Command[Any]:
        """Run the tool, then compress its documents without blocking the event loop."""
        result = await handler(request)
        found = self._documents(request, result)
        if found is None:
            return result
        message, docs, query = found
        out, stats = await acompress_with(self.compressor, docs, query)
        await aemit(stats, ensure_config())
        return self._replace(message, docs, query, out, stats)

    def _documents(
        self, request: ToolCallRequest, result: Any
    ) -> tuple[ToolMessage, list[Document], str | None] | None:
        """The message, its documents and the question, when the result is to be compressed."""
        if not isinstance(result, ToolMessage) or result.status == "error":
            return None
        if self.tool_names is not None and request.tool_call.get("name") not in self.tool_names:
            return None
        artifact = result.artifact
        if not isinstance(artifact, list) or not artifact:
            return None
        if not all(isinstance(d, Document) for d in artifact):
            return None
        return result, list(artifact), self._query(request)

    def _query(self, request: ToolCallRequest) -> str | None:
        if self.query_from == "args":
            value = (request.tool_call.get("args") or {}).get(self.query_arg)
            if isinstance(value, str) and value.strip():
                return value
        state = request.state
        messages = state.get("messages", []) if isinstance(state, dict) else []
        return last_human_text(messages)

    def _replace(
        self,
        message: ToolMessage,
        docs: list[Document],
        query: str | None,
        out: list[Document],
        stats: dict[str, Any],
    ) -> ToolMessage:
        content = self.document_separator.join(d.page_content for d in out)
        if message.tool_call_id and self.context_budget is not None:
            self._originals[message.tool_call_id] = _Original(
                docs, query, _digest(content), LRU(KEEP_FITTED)
            )
        return self._message(message, out, stats, content)

    def _message(
        self,
        message: ToolMessage,
        docs: list[Document],
        stats: dict[str, Any],
        content: str | None = None,
    ) -> ToolMessage:
        if content is None:
            content = self.document_separator.join(d.page_content for d in docs)
        return message.model_copy(
            update={
                "content": content,
                "artifact": docs,
                "response_metadata": {**message.response_metadata, STATS_KEY: stats},
            }
        )

    # ------------------------------------------------------------------ the context budget

    def wrap_model_call(
        self,
        request: ModelRequest,
        handler: Callable[[ModelRequest], ModelResponse],
    ) -> ModelResponse:
        """Fit the compressed tool results into ``context_budget``, then call the model."""
        if self.context_budget is None:
            return handler(request)
        return handler(request.override(messages=self._fit(request.messages)))

    async def awrap_model_call(
        self,
        request: ModelRequest,
        handler: Callable[[ModelRequest], Awaitable[ModelResponse]],
    ) -> ModelResponse:
        """Like :meth:`wrap_model_call`; the refitting runs in a worker thread."""
        if self.context_budget is None:
            return await handler(request)
        messages = await asyncio.to_thread(self._fit, request.messages)
        return await handler(request.override(messages=messages))

    def _fit(self, messages: list[AnyMessage]) -> list[AnyMessage]:
        """The messages with the compressed tool results fitted into the budget, newest first.

        A result compressed once is fitted again from its original documents (never from its
        compressed text) when it no longer fits; one whose originals are not at hand (another
        process, evicted), or whose refit fails or comes out no smaller, is left as it is. A
        result that passed through uncompressed (``on_error="passthrough"``) counts by its words.
        """
        found: list[tuple[int, ToolMessage, int]] = []
        for i, m in enumerate(messages):
            if not isinstance(m, ToolMessage):
                continue
            stats = m.response_metadata.get(STATS_KEY)
            if not isinstance(stats, dict):
                continue
            used = stats.get("compressed_tokens")
            found.append((i, m, int(used) if used is not None else len(str(m.content).split())))
        out = list(messages)
        targets = fit_newest_first([used for _, _, used in found], self.context_budget or 0)
        for (i, m, used), target in zip(found, targets):
            if target is not None:
                out[i] = self._refit(m, used, target) or m
        return out

    def _refit(self, m: ToolMessage, used: int, target: int) -> ToolMessage | None:
        """``m``'s documents compressed anew to ``target`` tokens, or None to keep ``m``."""
        original = self._originals.get(m.tool_call_id)
        if original is None or original.digest != _digest(m.content):
            logger.info(
                "context_budget: no original documents for tool call %s; it is kept as it is",
                m.tool_call_id,
            )
            return None
        fitted: ToolMessage | None = original.fitted.get(target)
        if fitted is not None:
            return fitted
        budgeted = self.compressor.model_copy(update={"rate": None, "target_tokens": target})
        try:
            docs, call = compress_with(budgeted, original.documents, original.query)
        except Exception as error:  # the result the model reads already is compressed
            logger.warning("context_budget: refitting a tool result failed (%s); kept", error)
            return None
        if call.get("passthrough") or int(call.get("compressed_tokens", used)) >= used:
            return None
        message = self._message(m, docs, {**call, "context_budget": target})
        original.fitted[target] = message
        return message


def last_human_text(messages: Sequence[Any]) -> str | None:
    """The text of the last human message, or None."""
    for m in reversed(messages):
        if isinstance(m, HumanMessage):
            return str(m.text) or None
    return None
