"""What a LangChain agent's model receives over a 5-turn conversation, with and without lingua-rag.

The demo corpus (300 NQ-Open gold passages, ``lingua_demo``) is embedded with the embedded MiniLM
in an ``InMemoryVectorStore``; a retrieval tool returns the top ``k`` passages. A scripted chat
model (LangChain's fake chat model, which records every call) asks the tool once per turn with
the turn's question, then answers; the conversation carries over (each turn's messages are the
previous turn's plus a new question). Three agents, in one run:

- ``none``: ``create_agent`` with no middleware (the documents reach the model whole);
- ``middleware``: ``LinguaMiddleware(rate=RATE)`` (the default method);
- ``budget``: the same with ``context_budget=BUDGET`` tokens over all tool results.

For each turn: the tokens (cl100k) of everything the model receives at its last call of the turn
(system prompt excluded: none is set), the tool results' share, and whether the turn's gold
answer is in the tool result the model reads for that turn's question.

    .venv/bin/python benchmarks/agent_context.py [--k 5] [--rate 0.33] [--budget 600]

Writes ``benchmarks/results/agent_context.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(DATA / "tiktoken"))
OUT = Path(__file__).resolve().parent / "results" / "agent_context.json"
#: Corpus rows whose questions make the conversation (fixed: the first five the demo's own
#: question is not among).
TURNS = [0, 1, 2, 3, 4]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--rate", type=float, default=0.33)
    p.add_argument("--budget", type=int, default=600)
    p.add_argument("--out", type=Path, default=OUT)
    a = p.parse_args()

    import tiktoken
    from langchain.agents import create_agent
    from langchain_core.documents import Document
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage, HumanMessage, ToolMessage, get_buffer_string
    from langchain_core.tools import create_retriever_tool
    from langchain_core.vectorstores import InMemoryVectorStore
    from pydantic import Field

    from langchain_lingua import LinguaMiddleware, LocalEmbeddings
    from lingua_core.eval.metrics import answer_in
    from lingua_demo.rag import load_corpus

    class Scripted(GenericFakeChatModel):
        received: list[list[Any]] = Field(default_factory=list)

        def bind_tools(self, tools: Any, **kwargs: Any) -> Scripted:
            return self

        def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any):
            self.received.append(list(messages))
            return super()._generate(messages, stop=stop, run_manager=run_manager, **kw)

    enc = tiktoken.get_encoding("cl100k_base")
    corpus = load_corpus()
    docs = [
        Document(f"{r['title']}\n{r['text']}", id=f"nq-{i}", metadata={"title": r["title"]})
        for i, r in enumerate(corpus)
    ]
    t0 = time.perf_counter()
    store = InMemoryVectorStore.from_documents(docs, LocalEmbeddings())
    index_s = time.perf_counter() - t0
    retrieve = create_retriever_tool(
        store.as_retriever(search_kwargs={"k": a.k}),
        "retrieve",
        "Search Wikipedia passages.",
        response_format="content_and_artifact",
    )
    turns = [corpus[i] for i in TURNS]
    setups: dict[str, list[Any]] = {
        "none": [],
        "middleware": [LinguaMiddleware(rate=a.rate)],
        "budget": [LinguaMiddleware(rate=a.rate, context_budget=a.budget)],
    }
    report: dict[str, Any] = {
        "k": a.k,
        "rate": a.rate,
        "budget_tokens": a.budget,
        "questions": [t["question"] for t in turns],
        "index_seconds": round(index_s, 1),
        "setups": {},
    }
    for name, middleware in setups.items():
        script = [
            m
            for i, t in enumerate(turns)
            for m in (
                AIMessage(
                    "",
                    tool_calls=[
                        {"name": "retrieve", "args": {"query": t["question"]}, "id": f"{i}"}
                    ],
                ),
                AIMessage(f"answer {i}"),
            )
        ]
        model = Scripted(messages=iter(script))
        agent = create_agent(model, tools=[retrieve], middleware=middleware)
        messages: list[Any] = []
        rows = []
        t0 = time.perf_counter()
        for i, t in enumerate(turns):
            messages = agent.invoke({"messages": [*messages, HumanMessage(t["question"])]})[
                "messages"
            ]
            seen = model.received[-1]  # the model's last call of the turn: after the tool
            tools = [m for m in seen if isinstance(m, ToolMessage)]
            this_turn = next(m for m in tools if m.tool_call_id == f"{i}")
            rows.append(
                {
                    "turn": i + 1,
                    "model_input_tokens": len(enc.encode(get_buffer_string(seen))),
                    "tool_result_tokens": sum(len(enc.encode(str(m.content))) for m in tools),
                    "answer_in_this_turns_result": answer_in(str(this_turn.content), t["answers"]),
                }
            )
        report["setups"][name] = {"turns": rows, "seconds": round(time.perf_counter() - t0, 1)}
        print(name, [r["model_input_tokens"] for r in rows])
    base = report["setups"]["none"]["turns"]
    for name in ("middleware", "budget"):
        got = report["setups"][name]["turns"]
        report["setups"][name]["ratio_to_none"] = [
            round(g["model_input_tokens"] / b["model_input_tokens"], 3) for g, b in zip(got, base)
        ]
    a.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
