"""The offline RAG pipelines behind ``lingua demo`` (``make demo``, ``make demo-llamaindex``).

A bundled corpus of 300 Wikipedia passages (NQ-Open gold passages, see the README's data
section), with their vectors from the embedded MiniLM stored alongside (:mod:`lingua_demo.vectors`;
embedded anew for another encoder), is indexed in LangChain's ``InMemoryVectorStore`` (or a
LlamaIndex ``VectorStoreIndex``), the top ``k`` passages are retrieved for a question,
compressed with a lingua-rag method, and the embedded SmolLM2-135M-Instruct answers from the
context with and without compression. Everything runs locally; the timings of each stage and the
tokens before and after are printed.
"""

from __future__ import annotations

import gzip
import json
import logging
import threading
import time
from collections.abc import Callable
from importlib import resources
from typing import Any, Literal

logger = logging.getLogger(__name__)

#: Question asked when none is given (its gold passage is in the corpus).
DEFAULT_QUESTION = "who directed the best years of our lives"
SYSTEM = "Answer the question using the documents. Reply with the answer only, in a few words."


def load_corpus() -> list[dict[str, Any]]:
    """The bundled passages: ``title``, ``text``, ``question``, ``answers``."""
    path = resources.files("lingua_demo").joinpath("data/nq_corpus.jsonl.gz")
    with path.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def load_sample() -> dict[str, Any]:
    """The bundled 5-passage sample context: ``question``, ``answers``, ``passages``, ``source``."""
    path = resources.files("lingua_demo").joinpath("data/sample_rag.json")
    return dict(json.loads(path.read_text("utf-8")))


def _answers_for(corpus: list[dict[str, Any]], question: str) -> list[str]:
    for row in corpus:
        if row["question"].strip().lower() == question.strip().lower():
            return list(row["answers"])
    return []


class _Timer:
    def __init__(self) -> None:
        self.stages: dict[str, float] = {}

    def run(self, name: str, fn: Callable[[], Any]) -> Any:
        t0 = time.perf_counter()
        out = fn()
        self.stages[name] = self.stages.get(name, 0.0) + time.perf_counter() - t0
        return out


def _load_reader_meanwhile() -> threading.Thread:
    """Start loading the reader (SmolLM2) in a thread, while the corpus is indexed."""
    from lingua_core.models.generate import Reader

    def load() -> None:
        try:
            Reader().warmup()
        except Exception as error:  # the reader's first use loads it again and raises there
            logger.debug("loading the reader in the background failed: %s", error)

    thread = threading.Thread(target=load, name="load-reader", daemon=True)
    thread.start()
    return thread


def langchain_store(corpus: list[dict[str, Any]], embeddings: Any) -> Any:
    """An ``InMemoryVectorStore`` of the corpus's passages, with the stored vectors if they apply.

    Each passage is a document ``nq-{i}`` (its title, a newline, its text; the title in metadata).
    """
    from langchain_core.documents import Document
    from langchain_core.embeddings import Embeddings
    from langchain_core.vectorstores import InMemoryVectorStore

    from langchain_lingua import LocalEmbeddings
    from lingua_demo.vectors import passage_texts, stored_vectors

    texts = passage_texts(corpus)
    docs = [
        Document(page_content=t, metadata={"title": r["title"]}, id=f"nq-{i}")
        for i, (t, r) in enumerate(zip(texts, corpus))
    ]
    # the stored vectors serve a LocalEmbeddings whose encoder computed them (its revision is
    # checked); any other Embeddings embeds the corpus itself
    local = isinstance(embeddings, LocalEmbeddings)
    vectors = stored_vectors(embeddings._get(), texts) if local else None
    if vectors is None:
        return InMemoryVectorStore.from_documents(docs, embeddings)
    table = {t: v.tolist() for t, v in zip(texts, vectors)}

    class Stored(Embeddings):
        """The stored vectors for the corpus's passages; the encoder for anything else."""

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            new = [t for t in texts if t not in table]
            computed = dict(zip(new, embeddings.embed_documents(new))) if new else {}
            return [table[t] if t in table else computed[t] for t in texts]

        def embed_query(self, text: str) -> list[float]:
            return list(embeddings.embed_query(text))

    return InMemoryVectorStore.from_documents(docs, Stored())


def _user_prompt(context: str, question: str) -> str:
    return f"Documents:\n{context}\n\nQuestion: {question}"


def run_langchain(
    question: str,
    method: str,
    rate: float | Literal["auto"],
    k: int,
    out: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The LangChain path: InMemoryVectorStore, LinguaRetriever over its retriever, LCEL chain."""
    from langchain_core.documents import Document
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.runnables import RunnableLambda, RunnablePassthrough

    from langchain_lingua import LinguaCompressor, LinguaRetriever, LocalChatModel, LocalEmbeddings

    timer = _Timer()
    reader = _load_reader_meanwhile()
    corpus = load_corpus()
    embeddings = LocalEmbeddings()
    store = timer.run("index 300 passages", lambda: langchain_store(corpus, embeddings))
    retriever = store.as_retriever(search_kwargs={"k": k})
    compressor = LinguaCompressor(method=method, rate=rate)
    timer.run("load compressor model", compressor.compressor.warmup)
    timer.run("load reader model (rest)", reader.join)
    llm = LocalChatModel()
    prompt = ChatPromptTemplate.from_messages(
        [("system", SYSTEM), ("human", "Documents:\n{context}\n\nQuestion: {question}")]
    )

    def join(documents: list[Document]) -> str:
        return "\n\n".join(d.page_content for d in documents if d.page_content)

    # One answer: SmolLM2 tends to go on after a blank line; decoding stops there.
    chain = prompt | llm.bind(stop=["\n\n"]) | StrOutputParser()
    retrieved = timer.run("retrieve", lambda: retriever.invoke(question))
    compressed = timer.run("compress", lambda: compressor.compress_documents(retrieved, question))
    # The same chains a user writes: retriever -> (compressor) -> prompt -> LLM.
    plain_chain = {
        "context": retriever | RunnableLambda(join),
        "question": RunnablePassthrough(),
    } | chain
    compressed_retriever = LinguaRetriever(base_retriever=retriever, method=method, rate=rate)
    lingua_chain = {
        "context": compressed_retriever | RunnableLambda(join),
        "question": RunnablePassthrough(),
    } | chain
    answer_plain = timer.run("answer, full context", lambda: plain_chain.invoke(question))
    answer_lingua = timer.run("answer, compressed context", lambda: lingua_chain.invoke(question))
    return _report(
        question,
        corpus,
        method,
        rate,
        retrieved,
        compressed,
        answer_plain,
        answer_lingua,
        timer,
        out,
        lambda d: d.page_content,
        lambda d: d.metadata["title"],
    )


def run_llamaindex(
    question: str,
    method: str,
    rate: float | Literal["auto"],
    k: int,
    out: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The LlamaIndex path: VectorStoreIndex, query engines with and without the postprocessor."""
    from llama_index.core import VectorStoreIndex
    from llama_index.core.schema import QueryBundle, TextNode

    from lingua_core.scorers.embed import Embedder
    from lingua_demo.vectors import passage_texts, stored_vectors
    from llamaindex_lingua import LinguaPostprocessor, LocalEmbedding, LocalLLM

    timer = _Timer()
    corpus = load_corpus()
    texts = passage_texts(corpus)
    nodes = [
        TextNode(
            text=texts[i],
            id_=f"nq-{i}",
            metadata={"title": r["title"]},
            excluded_llm_metadata_keys=["title"],
            excluded_embed_metadata_keys=["title"],
        )
        for i, r in enumerate(corpus)
    ]
    embed = LocalEmbedding()

    def build() -> Any:
        vectors = stored_vectors(Embedder(), texts)
        if vectors is not None:  # nodes that carry a vector are not embedded again
            for n, v in zip(nodes, vectors):
                n.embedding = v.tolist()
        return VectorStoreIndex(nodes, embed_model=embed)

    index = timer.run("index 300 passages", build)
    post = LinguaPostprocessor(method=method, rate=rate)
    timer.run("load compressor model", post.compressor.warmup)
    llm = LocalLLM()
    retriever = index.as_retriever(similarity_top_k=k)
    retrieved = timer.run("retrieve", lambda: retriever.retrieve(question))
    compressed = timer.run(
        "compress", lambda: post.postprocess_nodes(retrieved, QueryBundle(question))
    )
    plain = index.as_query_engine(llm=llm, similarity_top_k=k)
    lingua = index.as_query_engine(llm=llm, similarity_top_k=k, node_postprocessors=[post])
    answer_plain = timer.run("answer, full context", lambda: str(plain.query(question)))
    answer_lingua = timer.run("answer, compressed context", lambda: str(lingua.query(question)))
    return _report(
        question,
        corpus,
        method,
        rate,
        retrieved,
        compressed,
        answer_plain,
        answer_lingua,
        timer,
        out,
        lambda n: n.node.get_content(),
        lambda n: n.node.metadata["title"],
    )


def _report(
    question: str,
    corpus: list[dict[str, Any]],
    method: str,
    rate: float | Literal["auto"],
    retrieved: list[Any],
    compressed: list[Any],
    answer_plain: str,
    answer_lingua: str,
    timer: _Timer,
    out: Callable[[str], None] | None,
    text_of: Callable[[Any], str],
    title_of: Callable[[Any], str],
) -> dict[str, Any]:
    from lingua_core.models import load_causal_lm
    from lingua_core.pipeline.tokens import HFTokenCounter

    if out is None:  # the CLI passes print; as a library call, report through logging
        out = logger.info
    counter = HFTokenCounter(load_causal_lm(None).tokenizer, name="smollm2")
    before = sum(counter.count([text_of(d) for d in retrieved]))
    after = sum(counter.count([text_of(d) for d in compressed]))
    answers = _answers_for(corpus, question)
    out(f"Question: {question}" + (f"   (gold answer: {' / '.join(answers)})" if answers else ""))
    out(
        f"Retrieved {len(retrieved)} of {len(corpus)} passages: "
        + "; ".join(title_of(d) for d in retrieved)
    )
    out(
        f"Compressed with {method} at rate {rate}: {before} -> {after} context tokens "
        f"({after / max(before, 1):.2f}); {len(retrieved) - len(compressed)} passage(s) dropped"
    )
    for d in compressed:
        out(f"  - {text_of(d)[:160]}...")
    if answers:

        def kept(texts: list[str]) -> str:
            joined = " ".join(texts).lower()
            return "yes" if any(a.lower() in joined for a in answers) else "no"

        out(
            f"Gold answer in the context: full {kept([text_of(d) for d in retrieved])}, "
            f"compressed {kept([text_of(d) for d in compressed])}"
        )
    out(f"Answer, full context:       {answer_plain.strip()}")
    out(f"Answer, compressed context: {answer_lingua.strip()}")
    out("Times: " + ", ".join(f"{k} {v:.2f} s" for k, v in timer.stages.items()))
    return {
        "question": question,
        "tokens_before": before,
        "tokens_after": after,
        "answer_plain": answer_plain,
        "answer_compressed": answer_lingua,
        "times": timer.stages,
    }
