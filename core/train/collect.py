"""Teacher compressions of a corpus, for LLMLingua-2's data (``lingua distill collect``).

Each document of a JSONL or Parquet corpus (``id``, ``text``) is cut into chunks of about
``chunk_tokens`` tokens at sentence ends (the paper's 512), and a teacher compresses each chunk
under the paper's rules: delete words only, never reorder, change or add one. The pairs go to a
JSONL file (``id``, ``source``, ``original``, ``compressed``, ``teacher``) that
``lingua distill label`` reads.

The teacher is a study reader (:func:`lingua_core.eval.readers.get_reader`): a hosted chat
model ``PROVIDER:MODEL`` through LangChain, its key from the environment, rate limits retried
with backoff; ``local`` (the embedded SmolLM2); or ``lingua:METHOD``, a lingua-rag method as a
deterministic extractive teacher (``lingua:naive`` drops stop words; offline, for tests and
dry rehearsals). Runs resume: chunks already in the output are skipped, and every reply is
cached beside it (``OUT.cache.jsonl``) the moment it arrives. ``dry_run`` prices a run (prompt
tokens, and output tokens estimated at half the input) without calling anyone.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lingua_core.pipeline.text import sentence_units
from lingua_core.pipeline.tokens import TokenCounter, get_token_counter

logger = logging.getLogger(__name__)

#: The teacher's instruction: the paper's rules, in our words.
INSTRUCTION = (
    "Compress the text below by deleting words only, so that a reader can still recover its "
    "meaning. Rules: 1. Only remove words that are not needed. 2. Keep the remaining words in "
    "their original order. 3. Do not change any word: no synonyms, inflections or "
    "abbreviations. 4. Do not add any word, symbol or emoji. Remove as many words as you can "
    "while keeping as much of the information as possible. Reply with the compressed text only."
)
#: Tokens per chunk (the paper's).
CHUNK_TOKENS = 512


@dataclass(frozen=True)
class Chunk:
    """One chunk of a document to compress."""

    id: str
    source: str
    text: str


def chunks_of(doc_id: str, text: str, counter: TokenCounter, size: int) -> Iterator[Chunk]:
    """``text`` cut into chunks of at most about ``size`` tokens at sentence ends.

    A sentence longer than ``size`` is a chunk of its own.
    """
    units = sentence_units(text)
    sentences = units.texts(text)
    costs = counter.count(sentences) if sentences else []
    start = end = None
    used = 0
    k = 0
    for i, cost in enumerate(costs):
        if start is not None and used + cost > size:
            yield Chunk(f"{doc_id}-{k}", doc_id, text[units.starts[start] : units.ends[end]])
            k += 1
            start, used = None, 0
        if start is None:
            start = i
        end, used = i, used + cost
    if start is not None:
        yield Chunk(f"{doc_id}-{k}", doc_id, text[units.starts[start] : units.ends[end]])


def _messages(chunk: Chunk) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"{INSTRUCTION}\n\nText:\n{chunk.text}"}]


class _MethodTeacher:
    """A lingua-rag method as a deterministic extractive teacher (``lingua:METHOD``)."""

    def __init__(self, spec: str) -> None:
        from lingua_core import get_compressor

        self.name = spec
        self.compressor = get_compressor(spec.partition(":")[2])

    def __call__(self, messages: list[dict[str, str]], max_tokens: int) -> str:
        text = messages[-1]["content"].split("\n\nText:\n", 1)[1]
        return self.compressor.compress([text])[0].text


def teacher_for(spec: str) -> Any:
    """The teacher ``spec`` names: ``lingua:METHOD``, ``local`` or ``PROVIDER:MODEL``.

    Raises:
        ValueError: For an unknown spec, naming the valid forms.
    """
    if spec.startswith("lingua:"):
        return _MethodTeacher(spec)
    from lingua_core.eval.readers import get_reader

    if spec in ("none", "fake", ""):
        msg = f"unknown teacher {spec!r}; valid: lingua:METHOD, local, or PROVIDER:MODEL"
        raise ValueError(msg)
    return get_reader(spec)


def collect(
    corpus: str | Path,
    out: str | Path,
    teacher: str,
    *,
    chunk_tokens: int = CHUNK_TOKENS,
    token_counter: str = "cl100k_base",
    concurrency: int = 4,
    dry_run: bool = False,
    id_column: str = "id",
    text_column: str = "text",
) -> dict[str, Any]:
    """Compress every chunk of ``corpus`` with ``teacher``, appending the pairs to ``out``.

    Args:
        corpus: JSONL or Parquet with an id and a text column.
        out: The pairs file (JSONL), appended to and resumed.
        teacher: ``PROVIDER:MODEL``, ``local`` or ``lingua:METHOD`` (see the module docs).
        chunk_tokens: Tokens per chunk, cut at sentence ends.
        token_counter: How tokens are counted: a tiktoken name or ``words``.
        concurrency: Chunks sent to the teacher at once.
        dry_run: Count and price only; nobody is called, nothing is written.
        id_column: The corpus's id column.
        text_column: The corpus's text column.

    Returns:
        The summary: chunks, done before, asked now, cached replies used, and with ``dry_run``
        the prompt tokens, estimated output tokens and cost in dollars (None: price unknown).

    Raises:
        ValueError: For an unknown teacher, a chunk size below 16, a concurrency below 1, or
            an output file holding other chunks under the same ids.
    """
    from lingua_core.corpus.runs import read_rows
    from lingua_core.eval.readers import ResponseCache, price, trim_cut_line

    if chunk_tokens < 16:
        msg = f"chunk_tokens must be >= 16, got {chunk_tokens}"
        raise ValueError(msg)
    if concurrency < 1:
        msg = f"concurrency must be >= 1, got {concurrency}"
        raise ValueError(msg)
    ask = teacher_for(teacher)  # an unknown teacher fails before any work, dry runs included
    counter = get_token_counter(token_counter)
    rows = read_rows(corpus, id_column, text_column)
    chunks = [c for doc_id, text in rows for c in chunks_of(doc_id, text, counter, chunk_tokens)]
    out = Path(out)
    done = _done(out)
    for c in chunks:
        if c.id in done and done[c.id] != c.text:
            msg = (
                f"{out} holds chunk {c.id!r} with other text (another corpus, chunk size or "
                "token counter): write to another file"
            )
            raise ValueError(msg)
    todo = [c for c in chunks if c.id not in done]
    summary: dict[str, Any] = {"chunks": len(chunks), "done_before": len(chunks) - len(todo)}
    if dry_run:
        prompt = sum(counter.count([_messages(c)[0]["content"] for c in todo]))
        output = sum(counter.count([c.text for c in todo])) // 2
        rates = (0.0, 0.0) if teacher.startswith("lingua:") else price(teacher)
        cost = None if rates is None else (prompt * rates[0] + output * rates[1]) / 1e6
        return {
            **summary,
            "prompt_tokens": prompt,
            "output_tokens_estimate": output,
            "cost_usd": cost,
        }
    cache = ResponseCache(out.with_name(out.name + ".cache.jsonl"))
    lock = threading.Lock()
    out.parent.mkdir(parents=True, exist_ok=True)
    trim_cut_line(out)

    def run(c: Chunk) -> None:
        # room for a teacher whose tokenizer cuts finer than the counter: a cut-off reply
        # would label the chunk's tail "drop" unnoticed
        budget = 2 * counter.count([c.text])[0] + 64
        reply = cache.ask(ask, _messages(c), budget)
        row = {
            "id": c.id,
            "source": c.source,
            "original": c.text,
            "compressed": reply,
            "teacher": teacher,
        }
        with lock, out.open("a", encoding="utf-8") as f:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        list(pool.map(run, todo))
    logger.info("collected %d chunks into %s (%d cached replies)", len(todo), out, cache.hits)
    return {**summary, "asked": len(todo) - cache.hits, "cached": cache.hits}


def _done(out: Path) -> dict[str, str]:
    """The chunks already in ``out``: id -> original text (a line cut by a crash is left out)."""
    if not out.is_file():
        return {}
    done = {}
    for line in out.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
            done[str(row["id"])] = str(row["original"])
        except (ValueError, KeyError, TypeError):
            continue
    return done
