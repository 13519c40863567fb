"""``lingua demo --agent``: a LangChain agent over the demo corpus, with and without the middleware.

``create_agent`` with one retrieval tool (the top ``k`` passages of the bundled corpus, as
documents). The embedded SmolLM2 cannot choose tools, so the agent's model here is a small
stand-in: its first step is the retrieval call, scripted; its second hands what the tool
returned to the local reader, which answers. Run twice, without and with
:class:`~langchain_lingua.LinguaMiddleware`, it shows what the model receives each time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Literal

from lingua_demo.rag import SYSTEM, _answers_for, _user_prompt, langchain_store, load_corpus

logger = logging.getLogger(__name__)


def run_agent(
    question: str,
    method: str,
    rate: float | Literal["auto"],
    k: int,
    out: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the agent without and with the middleware; what its model received, and its answers.

    Args:
        question: The user's question.
        method: The lingua-rag method of the middleware.
        rate: Its rate.
        k: Passages the retrieval tool returns.
        out: Where the report lines go (the CLI passes ``print``); None: the log.

    Returns:
        ``{"question", "runs": {"without": {...}, "with": {...}}}``; each run gives the prompt
        tokens of the model's reading step (SmolLM2's tokenizer), the tool result it read, the
        answer and the seconds it took.
    """
    from langchain.agents import create_agent
    from langchain_core.tools import create_retriever_tool

    from langchain_lingua import LinguaMiddleware, LocalChatModel, LocalEmbeddings

    if out is None:  # the CLI passes print; as a library call, report through logging
        out = logger.info
    corpus = load_corpus()
    store = langchain_store(corpus, LocalEmbeddings())
    retrieve = create_retriever_tool(
        store.as_retriever(search_kwargs={"k": k}),
        "retrieve",
        "Search the Wikipedia passages.",
        response_format="content_and_artifact",
    )
    reader = LocalChatModel()
    answers = _answers_for(corpus, question)
    out(f"Question: {question}" + (f"   (gold answer: {' / '.join(answers)})" if answers else ""))
    runs: dict[str, Any] = {}
    for name, middleware in (
        ("without", []),
        ("with", [LinguaMiddleware(method=method, rate=rate)]),
    ):
        model = _stand_in(reader)
        agent = create_agent(model, tools=[retrieve], middleware=middleware)
        t0 = time.perf_counter()
        state = agent.invoke({"messages": [("user", question)]})
        seconds = time.perf_counter() - t0
        if not model.seen:  # pragma: no cover - the stand-in always reads the tool result
            msg = "the agent ended without reading the tool result"
            raise RuntimeError(msg)
        run = {**model.seen, "answer": str(state["messages"][-1].content), "seconds": seconds}
        runs[name] = run
        label = "without lingua-rag" if name == "without" else f"with LinguaMiddleware({method})"
        out(f"\n--- {label}: the model read {run['prompt_tokens']} tokens")
        out(f"tool result: {run['tool_result'][:300]}...")
        out(f"answer: {run['answer'].strip()}   ({seconds:.1f} s)")
    ratio = runs["with"]["prompt_tokens"] / max(1, runs["without"]["prompt_tokens"])
    out(f"\nThe middleware cut what the model reads to {ratio:.2f} of its tokens.")
    return {"question": question, "runs": runs}


def _stand_in(reader: Any) -> Any:
    """The agent's model: calls the retrieval tool first, then lets ``reader`` answer."""
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
    from langchain_core.outputs import ChatGeneration, ChatResult

    class StandIn(BaseChatModel):
        seen: dict[str, Any] = {}  # noqa: RUF012 - one instance per run

        @property
        def _llm_type(self) -> str:
            return "lingua-demo-stand-in"

        def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
            return self

        def _generate(
            self, messages: list[Any], stop: Any = None, run_manager: Any = None, **kw: Any
        ) -> ChatResult:
            question = next(m.text for m in reversed(messages) if isinstance(m, HumanMessage))
            results = [m for m in messages if isinstance(m, ToolMessage)]
            if not results:  # the scripted step: retrieve
                call = {"name": "retrieve", "args": {"query": question}, "id": "retrieve-1"}
                reply = AIMessage("", tool_calls=[call])
            else:  # the local reader answers from what the tool returned
                context = "\n\n".join(str(m.content) for m in results)
                prompt = [
                    SystemMessage(SYSTEM),
                    HumanMessage(_user_prompt(context, question)),
                ]
                answer = reader.invoke(prompt, stop=["\n\n"])
                tokens = answer.response_metadata.get("input_tokens", 0)
                self.seen = {"prompt_tokens": int(tokens), "tool_result": context}
                reply = AIMessage(str(answer.content))
            return ChatResult(generations=[ChatGeneration(message=reply)])

    return StandIn(seen={})
