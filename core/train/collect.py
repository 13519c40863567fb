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

``task="respond"`` collects the target LLM's own texts for distribution alignment
(``lingua distill align``) the same way: each document is a prompt (an instruction or a
question, not chunked) sent as it is, and the reply is the response (``id``, ``source``,
``prompt``, ``response``, ``teacher`` per line), at most ``max_tokens`` long.
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


#: What ``collect`` can ask a teacher for.
TASKS = ("compress", "respond")


def _messages(chunk: Chunk, task: str = "compress") -> list[dict[str, str]]:
    if task == "respond":
        return [{"role": "user", "content": chunk.text}]
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


def teacher_for(spec: str, task: str = "compress") -> Any:
    """The teacher ``spec`` names: ``lingua:METHOD``, ``local[:FOLDER]`` or ``PROVIDER:MODEL``.

    Raises:
        ValueError: For an unknown spec, naming the valid forms, or a ``lingua:`` teacher asked
            to respond (it only compresses).
    """
    if spec.startswith("lingua:"):
        if task == "respond":
            msg = (
                f"teacher {spec!r} only compresses; --task respond needs a language model: "
                "local, local:FOLDER or PROVIDER:MODEL"
            )
            raise ValueError(msg)
        return _MethodTeacher(spec)
    from lingua_core.eval.readers import get_reader

    if spec in ("none", "fake", ""):
        msg = f"unknown teacher {spec!r}; valid: lingua:METHOD, local[:FOLDER], or PROVIDER:MODEL"
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
    task: str = "compress",
    max_tokens: int = 512,
) -> dict[str, Any]:
    """Have ``teacher`` compress every chunk of ``corpus`` (or answer it), appending to ``out``.

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
        task: ``"compress"`` (LLMLingua-2's pairs) or ``"respond"`` (the teacher's replies to
            each document, for ``lingua distill align``).
        max_tokens: The longest reply with ``task="respond"``.

    Returns:
        The summary: chunks, done before, asked now, cached replies used, and with ``dry_run``
        the prompt tokens, estimated output tokens and cost in dollars (None: price unknown).

    Raises:
        ValueError: For an unknown teacher or task, a chunk size below 16, a concurrency or
            ``max_tokens`` below 1, or an output file holding other chunks under the same ids.
    """
    from lingua_core.corpus.runs import read_rows
    from lingua_core.eval.readers import ResponseCache, price, trim_cut_line

    if chunk_tokens < 16:
        msg = f"chunk_tokens must be >= 16, got {chunk_tokens}"
        raise ValueError(msg)
    for name, value in (("concurrency", concurrency), ("max_tokens", max_tokens)):
        if value < 1:
            msg = f"{name} must be >= 1, got {value}"
            raise ValueError(msg)
    if task not in TASKS:
        msg = f"unknown task {task!r}; valid: {', '.join(TASKS)}"
        raise ValueError(msg)
    respond = task == "respond"
    ask = teacher_for(teacher, task)  # an unknown teacher fails before any work, dry runs included
    counter = get_token_counter(token_counter)
    rows = read_rows(corpus, id_column, text_column)
    if respond:  # a prompt is sent whole
        chunks = [Chunk(doc_id, doc_id, text) for doc_id, text in rows]
    else:
        chunks = [c for doc_id, t in rows for c in chunks_of(doc_id, t, counter, chunk_tokens)]
    out = Path(out)
    keys = ("prompt", "response") if respond else ("original", "compressed")
    done = _done(out, keys[0])
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
        prompt = sum(counter.count([_messages(c, task)[0]["content"] for c in todo]))
        if respond:  # half the cap, a guess
            output = len(todo) * max_tokens // 2
        else:
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

    empty: list[str] = []

    def run(c: Chunk) -> None:
        # room for a teacher whose tokenizer cuts finer than the counter: a cut-off reply
        # would label the chunk's tail "drop" unnoticed
        budget = max_tokens if respond else 2 * counter.count([c.text])[0] + 64
        # an empty compression is data (the label step filters it); an empty response is not:
        # left out and not cached, so that a rerun asks again
        reply = cache.ask(ask, _messages(c, task), budget, record_empty=not respond)
        if respond and not reply.strip():
            with lock:
                empty.append(c.id)
            return
        row = {
            "id": c.id,
            "source": c.source,
            keys[0]: c.text,
            keys[1]: reply,
            "teacher": teacher,
        }
        with lock, out.open("a", encoding="utf-8") as f:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        list(pool.map(run, todo))
    logger.info("collected %d chunks into %s (%d cached replies)", len(todo), out, cache.hits)
    if empty:
        logger.warning(
            "%d of %d replies were empty and left out (a rerun asks again): %s",
            len(empty),
            len(todo),
            ", ".join(sorted(empty)[:5]),
        )
    result = {**summary, "asked": len(todo) - cache.hits, "cached": cache.hits}
    return {**result, "empty": len(empty)} if respond else result


def _done(out: Path, key: str) -> dict[str, str]:
    """The chunks already in ``out``: id -> its ``key`` text (``original`` or ``prompt``).

    A line cut by a crash is left out.

    Raises:
        ValueError: When ``out`` holds the other task's rows.
    """
    if not out.is_file():
        return {}
    done = {}
    for line in out.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
            rid = str(row["id"])
        except (ValueError, KeyError, TypeError):
            continue
        if key not in row:
            other = "compress" if key == "prompt" else "respond"
            msg = f"{out} holds rows of --task {other} (no {key!r}): write to another file"
            raise ValueError(msg)
        done[rid] = str(row[key])
    return done
