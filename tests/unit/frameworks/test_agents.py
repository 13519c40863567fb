"""LangChain agents: ``LinguaMiddleware`` in a real ``create_agent`` loop, ``LinguaRetriever``.

A scripted chat model (LangChain's fake chat model, which records what it receives) calls a
retriever tool over an ``InMemoryVectorStore``; the assertions are on what the model receives.
Deterministic fake embeddings and the seeded ``random`` method keep it fast and exact; the
embedded models run the same loop in tests/integration/test_agents_embedded.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

pytest.importorskip("langchain.agents")

from langchain.agents import create_agent
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import create_retriever_tool, tool
from langchain_core.vectorstores import InMemoryVectorStore

from langchain_lingua import LinguaCompressor, LinguaMiddleware, LinguaRetriever
from tests.scripted import Scripted, retrieval

SETTINGS: dict[str, Any] = {"method": "random", "rate": 0.5, "options": {"seed": 1}}
PASSAGES = [
    "The Eiffel Tower is a wrought-iron lattice tower in Paris. It was completed in 1889 and "
    "named after the engineer Gustave Eiffel, whose company designed and built it.",
    "Mount Everest is Earth's highest mountain above sea level. Its elevation of 8,849 metres "
    "was established by a Chinese and Nepali survey in 2020.",
    "The Great Barrier Reef is the world's largest coral reef system. It lies off the coast of "
    "Queensland, Australia, and can be seen from outer space.",
    "Hamlet is a tragedy written by William Shakespeare sometime between 1599 and 1601. It is "
    "his longest play, with 29,551 words.",
]
QUESTION = "When was the Eiffel Tower completed?"


def _call(query: str, n: int = 1, name: str = "retrieve") -> AIMessage:
    return retrieval(query, f"call_{n}", name)


@pytest.fixture(scope="module")
def store() -> InMemoryVectorStore:
    docs = [
        Document(p, id=f"doc-{i}", metadata={"source": f"wiki/{i}"}) for i, p in enumerate(PASSAGES)
    ]
    return InMemoryVectorStore.from_documents(docs, DeterministicFakeEmbedding(size=16))


@pytest.fixture
def retrieve(store):
    return create_retriever_tool(
        store.as_retriever(search_kwargs={"k": 3}),
        "retrieve",
        "Search the encyclopaedia.",
        response_format="content_and_artifact",
    )


def _tool_messages(messages: list[Any]) -> list[ToolMessage]:
    return [m for m in messages if isinstance(m, ToolMessage)]


def test_the_model_receives_the_compressed_documents(store, retrieve):
    model = Scripted(messages=iter([_call(QUESTION), AIMessage("In 1889.")]))
    agent = create_agent(model, tools=[retrieve], middleware=[LinguaMiddleware(**SETTINGS)])
    state = agent.invoke({"messages": [HumanMessage(QUESTION)]})

    retrieved = store.as_retriever(search_kwargs={"k": 3}).invoke(QUESTION)
    expected = LinguaCompressor(**SETTINGS).compress_documents(retrieved, QUESTION)
    [seen] = _tool_messages(model.received[1])  # the model's second call: after the tool
    assert seen.content == "\n\n".join(d.page_content for d in expected)
    assert [d.id for d in seen.artifact] == [d.id for d in retrieved]  # citations survive
    assert [d.metadata["source"] for d in seen.artifact] == [
        d.metadata["source"] for d in retrieved
    ]
    assert all("lingua" in d.metadata for d in seen.artifact)
    stats = seen.response_metadata["lingua"]
    assert stats["method"] == "random" and stats["documents"] == 3
    assert 0 < stats["compressed_tokens"] < stats["original_tokens"]
    # what the conversation keeps is what the model read
    assert _tool_messages(state["messages"])[0].content == seen.content
    assert state["messages"][-1].content == "In 1889."


def test_without_the_middleware_the_model_receives_the_documents_whole(store, retrieve):
    model = Scripted(messages=iter([_call(QUESTION), AIMessage("In 1889.")]))
    create_agent(model, tools=[retrieve]).invoke({"messages": [HumanMessage(QUESTION)]})
    [seen] = _tool_messages(model.received[1])
    retrieved = store.as_retriever(search_kwargs={"k": 3}).invoke(QUESTION)
    assert seen.content == "\n\n".join(d.page_content for d in retrieved)


def test_async_agents_get_the_same_compression(retrieve):
    sync_model = Scripted(messages=iter([_call(QUESTION), AIMessage("1889")]))
    async_model = Scripted(messages=iter([_call(QUESTION), AIMessage("1889")]))
    create_agent(sync_model, tools=[retrieve], middleware=[LinguaMiddleware(**SETTINGS)]).invoke(
        {"messages": [HumanMessage(QUESTION)]}
    )
    agent = create_agent(async_model, tools=[retrieve], middleware=[LinguaMiddleware(**SETTINGS)])
    asyncio.run(agent.ainvoke({"messages": [HumanMessage(QUESTION)]}))
    [seen] = _tool_messages(async_model.received[1])
    assert "lingua" in seen.response_metadata  # compressed, not passed through
    assert seen.content == _tool_messages(sync_model.received[1])[0].content


def test_the_event_reaches_the_agent_callbacks(retrieve):
    class Events(BaseCallbackHandler):
        def __init__(self) -> None:
            self.events: list[tuple[str, Any]] = []

        def on_custom_event(self, name: str, data: Any, **kwargs: Any) -> None:
            self.events.append((name, data))

    events = Events()
    model = Scripted(messages=iter([_call(QUESTION), AIMessage("1889")]))
    agent = create_agent(model, tools=[retrieve], middleware=[LinguaMiddleware(**SETTINGS)])
    agent.invoke({"messages": [HumanMessage(QUESTION)]}, config={"callbacks": [events]})
    [(name, data)] = events.events
    assert name == "lingua_compression" and data["documents"] == 3


def _whole(store: InMemoryVectorStore, query: str = QUESTION) -> str:
    """What the retrieval tool returns for ``query``, uncompressed."""
    docs = store.as_retriever(search_kwargs={"k": 3}).invoke(query)
    return "\n\n".join(d.page_content for d in docs)


def test_only_the_named_tools_and_only_document_artifacts_are_compressed(store, retrieve):
    @tool
    def clock(query: str) -> str:
        """The time."""
        return "It is noon, " + query

    model = Scripted(
        messages=iter(
            [
                _call(QUESTION, 1),
                _call("and now", 2, name="clock"),
                AIMessage("done"),
            ]
        )
    )
    middleware = LinguaMiddleware(tools=["clock"], **SETTINGS)
    agent = create_agent(model, tools=[retrieve, clock], middleware=[middleware])
    agent.invoke({"messages": [HumanMessage(QUESTION)]})
    first, second = _tool_messages(model.received[2])
    assert "lingua" not in first.response_metadata  # "retrieve" is not named
    assert first.content == _whole(store)
    assert second.content == "It is noon, and now"  # named, but no documents: untouched


def test_the_question_is_the_tool_argument_or_the_last_human_message():
    from langchain.agents.middleware import ToolCallRequest

    messages = [HumanMessage("first"), AIMessage("ok"), HumanMessage("the user's question")]
    call = {"name": "retrieve", "args": {"query": "the tool's query"}, "id": "c1"}
    request = ToolCallRequest(tool_call=call, tool=None, state={"messages": messages}, runtime=None)
    assert LinguaMiddleware(**SETTINGS)._query(request) == "the tool's query"
    assert LinguaMiddleware(query_from="human", **SETTINGS)._query(request) == (
        "the user's question"
    )
    assert LinguaMiddleware(query_arg="q", **SETTINGS)._query(request) == "the user's question"


def test_a_failure_passes_the_documents_through_when_asked(store, retrieve, tmp_path):
    model = Scripted(messages=iter([_call(QUESTION), AIMessage("1889")]))
    middleware = LinguaMiddleware(
        method="coarse_to_fine", model=str(tmp_path / "missing"), on_error="passthrough"
    )
    agent = create_agent(model, tools=[retrieve], middleware=[middleware])
    agent.invoke({"messages": [HumanMessage(QUESTION)]})
    [seen] = _tool_messages(model.received[1])
    assert seen.content == _whole(store)
    assert seen.response_metadata["lingua"]["passthrough"] is True


def test_a_context_budget_shrinks_older_results_first_from_their_originals(retrieve):
    questions = [QUESTION, "How high is Mount Everest?", "Who wrote Hamlet?"]
    script = [m for i, q in enumerate(questions) for m in (_call(q, i), AIMessage(f"answer {i}"))]
    model = Scripted(messages=iter(script))
    middleware = LinguaMiddleware(context_budget=60, **SETTINGS)
    agent = create_agent(model, tools=[retrieve], middleware=[middleware])
    messages: list[Any] = []
    for q in questions:
        messages = agent.invoke({"messages": [*messages, HumanMessage(q)]})["messages"]

    last = _tool_messages(model.received[-1])
    assert len(last) == 3
    used = [m.response_metadata["lingua"]["compressed_tokens"] for m in last]
    assert sum(used) <= 60 + 3  # the budget, give or take a word per result
    assert used[0] <= used[1] <= used[2]  # older results shrink first
    assert "context_budget" in last[0].response_metadata["lingua"]
    assert "context_budget" not in last[2].response_metadata["lingua"]
    # the conversation keeps each result as compressed once, at the tool's rate
    kept = _tool_messages(messages)
    assert all("context_budget" not in m.response_metadata["lingua"] for m in kept)
    assert sum(m.response_metadata["lingua"]["compressed_tokens"] for m in kept) > sum(used)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"query_from": "system"}, "query_from must be one of args, human"),
        ({"context_budget": 0}, "context_budget must be None or an int >= 1"),
        ({"tools": "retrieve"}, "tools must be None"),
        ({"tools": []}, "a non-empty list of tool names"),
        ({"method": "nope"}, "unknown method"),
        ({"rate": 2.0}, "rate"),
    ],
)
def test_bad_settings_fail_at_construction_naming_the_choices(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LinguaMiddleware(**kwargs)


def test_the_budget_goes_to_the_newest_results_first():
    from lingua_core.frameworks.documents import fit_newest_first

    assert fit_newest_first([10, 20, 30], 100) == [None, None, None]
    assert fit_newest_first([10, 20, 30], 45) == [1, 15, None]
    assert fit_newest_first([10, 20, 30], 20) == [1, 1, 20]
    assert fit_newest_first([], 10) == []


def test_a_result_the_middleware_did_not_compress_here_is_never_refitted(retrieve):
    """Another conversation reusing a tool call id, or a conversation restored elsewhere: the
    original documents at hand are not this result's, so it is kept as the model read it."""
    middleware = LinguaMiddleware(context_budget=10, **SETTINGS)
    first = Scripted(messages=iter([_call(QUESTION, 7), AIMessage("a")]))
    create_agent(first, tools=[retrieve], middleware=[middleware]).invoke(
        {"messages": [HumanMessage(QUESTION)]}
    )
    # the same id, other documents (another question), in another conversation
    other = "How high is Mount Everest?"
    second = Scripted(
        messages=iter([_call(other, 7), AIMessage("b"), _call(other, 8), AIMessage("c")])
    )
    agent = create_agent(second, tools=[retrieve], middleware=[middleware])
    state = agent.invoke({"messages": [HumanMessage(other)]})
    restored = [*state["messages"], HumanMessage("again")]
    restored[2] = restored[2].model_copy(update={"content": restored[2].content + " (edited)"})
    agent.invoke({"messages": restored})
    older = _tool_messages(second.received[-1])[0]
    assert older.content.endswith(" (edited)")  # not replaced by another result's documents
    assert "context_budget" not in older.response_metadata["lingua"]


def test_a_failed_refit_keeps_the_result_the_model_read(retrieve, monkeypatch):
    from langchain_lingua import middleware as mw

    questions = [QUESTION, "Who wrote Hamlet?"]
    script = [m for i, q in enumerate(questions) for m in (_call(q, i), AIMessage(f"a{i}"))]
    model = Scripted(messages=iter(script))
    middleware = LinguaMiddleware(context_budget=20, **SETTINGS)
    agent = create_agent(model, tools=[retrieve], middleware=[middleware])
    messages = agent.invoke({"messages": [HumanMessage(questions[0])]})["messages"]
    real = mw.compress_with

    def broken(settings, documents, query):
        if settings.target_tokens is not None:
            raise RuntimeError("the model went away")
        return real(settings, documents, query)

    monkeypatch.setattr(mw, "compress_with", broken)
    agent.invoke({"messages": [*messages, HumanMessage(questions[1])]})
    older = _tool_messages(model.received[-1])[0]
    assert older.content == _tool_messages(messages)[0].content
    assert "context_budget" not in older.response_metadata["lingua"]


# ---------------------------------------------------------------------- the retriever


def test_the_retriever_compresses_the_base_retrievers_documents(store):
    base = store.as_retriever(search_kwargs={"k": 3})
    retriever = LinguaRetriever(base_retriever=base, **SETTINGS)
    got = retriever.invoke(QUESTION)
    expected = LinguaCompressor(**SETTINGS).compress_documents(base.invoke(QUESTION), QUESTION)
    assert [(d.id, d.page_content) for d in got] == [(d.id, d.page_content) for d in expected]
    assert asyncio.run(retriever.ainvoke(QUESTION)) == got
    assert len(retriever.invoke(QUESTION, k=2)) == 2
    assert len(LinguaRetriever(base_retriever=base, k=1, **SETTINGS).invoke(QUESTION)) == 1
    with pytest.raises(ValueError, match="k must be None or an int >= 1"):
        LinguaRetriever(base_retriever=base, k=0, **SETTINGS)


def test_the_retriever_serves_as_the_agents_tool(store):
    retriever = LinguaRetriever(
        base_retriever=store.as_retriever(search_kwargs={"k": 3}), **SETTINGS
    )
    retrieve = create_retriever_tool(retriever, "retrieve", "Search the encyclopaedia.")
    model = Scripted(messages=iter([_call(QUESTION), AIMessage("1889")]))
    create_agent(model, tools=[retrieve]).invoke({"messages": [HumanMessage(QUESTION)]})
    [seen] = _tool_messages(model.received[1])
    assert seen.content == "\n\n".join(d.page_content for d in retriever.invoke(QUESTION))
