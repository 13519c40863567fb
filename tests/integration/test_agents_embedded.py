"""An agent over the demo corpus on the embedded models: the middleware in a 3-turn conversation.

The same loop as ``benchmarks/agent_context.py`` (a scripted chat model calls a retriever tool
over an ``InMemoryVectorStore`` of the embedded MiniLM each turn), asserted on what the model
receives: each turn's result compressed by the default method with its answer kept, citations
(ids) intact, and with ``context_budget`` the tool results held to the budget.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import create_retriever_tool

from langchain_lingua import LinguaMiddleware, LocalEmbeddings
from lingua_core.eval.metrics import answer_in
from lingua_demo.rag import langchain_store, load_corpus
from tests.scripted import Scripted, retrieval

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def corpus_tool():
    corpus = load_corpus()
    store = langchain_store(corpus, LocalEmbeddings())  # the demo's index
    tool = create_retriever_tool(
        store.as_retriever(search_kwargs={"k": 5}),
        "retrieve",
        "Search Wikipedia passages.",
        response_format="content_and_artifact",
    )
    return corpus[:3], store, tool


def _converse(turns: list[dict[str, Any]], tool: Any, middleware: list[Any]) -> Scripted:
    script = [m for i, t in enumerate(turns) for m in (retrieval(t["question"], i), AIMessage("a"))]
    model = Scripted(messages=iter(script))
    agent = create_agent(model, tools=[tool], middleware=middleware)
    messages: list[Any] = []
    for t in turns:
        messages = agent.invoke({"messages": [*messages, HumanMessage(t["question"])]})["messages"]
    return model


def test_each_turn_reads_its_documents_compressed_with_the_answer(corpus_tool):
    turns, store, tool = corpus_tool
    model = _converse(turns, tool, [LinguaMiddleware(rate=0.33)])
    for i, t in enumerate(turns):
        seen = [m for m in model.received[2 * i + 1] if isinstance(m, ToolMessage)]
        assert len(seen) == i + 1  # every earlier result stays in the conversation
        result = seen[-1]
        retrieved = store.similarity_search(t["question"], k=5)
        whole = "\n\n".join(d.page_content for d in retrieved)
        assert len(result.content.split()) < 0.6 * len(whole.split())
        assert answer_in(result.content, t["answers"]), (t["question"], result.content)
        assert {d.id for d in result.artifact} <= {d.id for d in retrieved}


def test_a_context_budget_holds_every_model_call(corpus_tool):
    turns, _, tool = corpus_tool
    middleware = LinguaMiddleware(rate=0.33, context_budget=250)
    model = _converse(turns, tool, [middleware])
    for call in model.received:
        tools = [m for m in call if isinstance(m, ToolMessage)]
        used = sum(m.response_metadata["lingua"]["compressed_tokens"] for m in tools)
        assert used <= 250 + 5 * len(tools)  # a sentence may round over, a few tokens each
