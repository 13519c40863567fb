"""The offline RAG demo of lingua-rag (``lingua demo``, ``make demo``, the notebooks).

A bundled corpus of 300 Wikipedia passages is retrieved from with the embedded MiniLM, the
passages are compressed with a lingua-rag method through the LangChain or the LlamaIndex adapter,
and the embedded SmolLM2-135M-Instruct answers with and without compression;
:func:`~lingua_demo.agent.run_agent` does the same through a LangChain agent. It lives outside
``lingua_core`` because it drives the frameworks: the core never imports an adapter or a
framework. Install it with ``pip install "lingua-rag[demo]"``.
"""

from __future__ import annotations

from lingua_demo.agent import run_agent
from lingua_demo.rag import (
    DEFAULT_QUESTION,
    load_corpus,
    load_sample,
    run_langchain,
    run_llamaindex,
)

__all__ = [
    "DEFAULT_QUESTION",
    "load_corpus",
    "load_sample",
    "run_agent",
    "run_langchain",
    "run_llamaindex",
]
