"""LlamaIndex agents: the postprocessor inside a ``QueryEngineTool`` that a ``FunctionAgent`` calls.

A scripted function-calling LLM (LlamaIndex's mock) calls the query engine tool and records what
it receives back; the query engine's own LLM echoes its prompt (``MockLLM``), so the tool's
output is the context the engine built: compressed with the postprocessor, whole without it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from llama_index.core import Document, Settings, VectorStoreIndex
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.base.llms.types import ChatMessage, MessageRole, ToolCallBlock
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms import MockLLM
from llama_index.core.llms.mock import MockFunctionCallingLLM
from llama_index.core.tools import QueryEngineTool

from llamaindex_lingua import LinguaPostprocessor

PASSAGES = [
    "The Eiffel Tower is a wrought-iron lattice tower in Paris. It was completed in 1889 and "
    "named after the engineer Gustave Eiffel, whose company designed and built it.",
    "Mount Everest is Earth's highest mountain above sea level. Its elevation of 8,849 metres "
    "was established by a Chinese and Nepali survey in 2020.",
    "Hamlet is a tragedy written by William Shakespeare sometime between 1599 and 1601. It is "
    "his longest play, with 29,551 words.",
]
QUESTION = "When was the Eiffel Tower completed?"


def _agent(postprocessors: list[Any]) -> tuple[FunctionAgent, list[list[ChatMessage]]]:
    index = VectorStoreIndex.from_documents(
        [Document(text=p, id_=f"doc-{i}") for i, p in enumerate(PASSAGES)],
        embed_model=MockEmbedding(embed_dim=8),
    )
    engine = index.as_query_engine(
        llm=MockLLM(),
        similarity_top_k=3,
        node_postprocessors=postprocessors,
        embed_model=MockEmbedding(embed_dim=8),
    )
    tool = QueryEngineTool.from_defaults(engine, name="encyclopaedia", description="Search it.")
    received: list[list[ChatMessage]] = []

    def script(messages: list[ChatMessage], **kwargs: Any) -> ChatMessage:
        received.append(list(messages))
        if not any(m.role == MessageRole.TOOL for m in messages):
            call = ToolCallBlock(
                tool_call_id="c1", tool_name="encyclopaedia", tool_kwargs={"input": QUESTION}
            )
            return ChatMessage(role=MessageRole.ASSISTANT, blocks=[call])
        return ChatMessage(role=MessageRole.ASSISTANT, content="In 1889.")

    llm = MockFunctionCallingLLM(response_generator=script)
    return FunctionAgent(tools=[tool], llm=llm), received


def _tool_output(received: list[list[ChatMessage]]) -> str:
    [message] = [m for m in received[-1] if m.role == MessageRole.TOOL]
    return str(message.content)


@pytest.fixture(autouse=True)
def _no_default_models(monkeypatch):
    monkeypatch.setattr(Settings, "_embed_model", MockEmbedding(embed_dim=8))
    monkeypatch.setattr(Settings, "_llm", MockLLM())


async def _run(postprocessors: list[Any]) -> tuple[str, list[list[ChatMessage]]]:
    agent, received = _agent(postprocessors)  # the workflow needs a running loop
    return str(await agent.run(QUESTION)), received


def test_the_agent_reads_the_compressed_context():
    _, plain = asyncio.run(_run([]))
    lingua = LinguaPostprocessor(method="random", rate=0.4, options={"seed": 1})
    response, received = asyncio.run(_run([lingua]))

    whole, compressed = _tool_output(plain), _tool_output(received)
    assert all(p in whole for p in PASSAGES)  # without the postprocessor: every passage whole
    assert not any(p in compressed for p in PASSAGES)
    assert len(compressed) < len(whole) - 100
    assert "In 1889." in response
