"""Every code snippet of the README and the docs runs as written (issue 25, item 7).

The ```python blocks of ``README.md`` and ``docs/*.md`` are extracted and executed on the
embedded models (MiniLM, SmolLM2), offline, and the outputs a newcomer would check are asserted.
The cheap ``lingua ...`` commands of the ```bash blocks run in a subprocess with the venv's
``bin`` first on ``PATH``. Whatever cannot run here is listed below with the reason.

Namespaces: every block runs in a fresh namespace. No page reads as one continuing session:
the README's quickstart, LangChain and LlamaIndex blocks are separate sections a reader copies
one at a time, and each block of ``frameworks.md``, ``indexing.md``, ``methods.md``,
``serving.md`` and ``index.md`` introduces its own data. ``SHARED_NAMESPACE`` names a page
whose blocks share one namespace, in page order; none does today.
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BIN = Path(sys.executable).parent

SHARED_NAMESPACE: set[str] = set()  # pages whose python blocks continue one session: none


@dataclass(frozen=True)
class Block:
    page: str  # relative to the repository root
    lang: str
    index: int  # among the page's blocks of this language
    line: int  # 1-based line of the block's first code line in the page
    source: str
    expected_output: str | None = None  # an untagged block right after a bash block


def _blocks(path: Path) -> list[Block]:
    """The fenced blocks of one Markdown page, in order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    page = path.relative_to(ROOT).as_posix()
    raw: list[tuple[str, int, int, str]] = []  # lang, first code line, line after fence, text
    i = 0
    while i < len(lines):
        m = re.match(r"^```(\S*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        start = i + 1
        end = start
        while end < len(lines) and lines[end].rstrip() != "```":
            end += 1
        raw.append((m.group(1), start + 1, end + 1, "\n".join(lines[start:end]) + "\n"))
        i = end + 1
    counts: dict[str, int] = {}
    out = []
    for k, (lang, line, after, text) in enumerate(raw):
        expected = None
        if lang == "bash" and k + 1 < len(raw) and raw[k + 1][0] == "":
            between = lines[after : raw[k + 1][1] - 2]
            if all(not s.strip() for s in between):
                expected = raw[k + 1][3]
        out.append(Block(page, lang, counts.get(lang, 0), line, text, expected))
        counts[lang] = counts.get(lang, 0) + 1
    return out


BLOCKS = [b for p in PAGES for b in _blocks(p)]
PYTHON = [b for b in BLOCKS if b.lang == "python"]

# Python blocks that cannot run here by nature, with the reason: none. (The LLMLingua-2
# checkpoint, a hosted LLM with an API key, a GPU or a cluster appear only in bash blocks.)
SKIP_PYTHON: dict[tuple[str, int], str] = {}

# Blocks that run SmolLM2 (generation or scoring) or start a server: more than a few seconds.
SLOW_PYTHON = {
    ("docs/agents.md", 0),
    ("docs/agents.md", 2),
    ("README.md", 0),
    ("README.md", 2),
    ("docs/frameworks.md", 0),
    ("docs/frameworks.md", 1),
    ("docs/indexing.md", 0),
    ("docs/indexing.md", 2),
    ("docs/methods.md", 0),
    ("docs/serving.md", 0),
}

# Blocks that call a `lingua serve` at http://127.0.0.1:8000: the test starts one on a free port
# and puts its address in the source instead (the only change made to any snippet).
NEEDS_SERVER = {("docs/serving.md", 0)}
SNIPPET_URL = "http://127.0.0.1:8000"

QUESTION = "What was Beijing called?"


# --- what a newcomer checks after each block -------------------------------------------------


@dataclass
class Ran:
    ns: dict[str, Any]
    stdout: str
    runs: list[Any]  # LangChain runs traced while the block ran (collect_runs)
    home: Path  # the HOME the block saw ("~" in a snippet lands here)


def _all_runs(runs: list[Any]) -> list[Any]:
    out, todo = [], list(runs)
    while todo:
        run = todo.pop()
        out.append(run)
        todo.extend(run.child_runs)
    return out


def check_quickstart(r: Ran) -> None:
    results = r.ns["results"]
    assert len(results) == len(r.ns["docs"])  # one result per document, in order
    joined = " ".join(x.text for x in results)
    assert "Peking" in joined, f"the answer was dropped at rate 0.25: {joined!r}"
    assert "Peking" in r.stdout  # what the snippet prints shows it


def check_langchain_retriever(r: Ran) -> None:
    docs = r.ns["docs"]
    assert docs, "the compression retriever returned no document"
    assert all("lingua" in d.metadata for d in docs)
    joined = " ".join(d.page_content for d in docs)
    assert "Peking" in joined, f"the answer was dropped at rate 0.33: {joined!r}"


def check_llamaindex_engine(r: Ran) -> None:
    response = r.ns["response"]
    assert str(response).strip(), "empty answer"
    assert response.source_nodes
    assert all("lingua" in n.node.metadata for n in response.source_nodes)


LCEL_RATE = 0.33
LCEL_SLACK = 100  # characters: the prompt template (~50) and one sentence of rounding


def check_frameworks_langchain(r: Ran) -> None:
    from langchain_core.messages import get_buffer_string

    ns = r.ns
    # The prompt that reached the LLM in the snippet's own chain.invoke (compressed, once): the
    # tracer records a chat model's messages as one string, get_buffer_string's.
    llm_runs = [x for x in _all_runs(r.runs) if x.run_type == "llm"]
    assert len(llm_runs) == 1, [x.name for x in llm_runs]
    compressed = len(llm_runs[0].inputs["prompts"][0])
    # The same prompt without the compression step: retrieve, format, prompt.
    plain = ns["prompt"].invoke(
        {"context": ns["format_docs"](ns["base"].invoke(QUESTION)), "question": QUESTION}
    )
    uncompressed = len(get_buffer_string(plain.to_messages()))
    print(f"LCEL prompt: {uncompressed} chars uncompressed, {compressed} compressed")
    assert compressed <= 1.5 * LCEL_RATE * uncompressed + LCEL_SLACK, (compressed, uncompressed)
    # compressed once: one LinguaCompressor step in the chain's run, none in the retriever
    lingua_steps = [x for x in _all_runs(r.runs) if x.name == "LinguaCompressor"]
    assert len(lingua_steps) == 1
    # indexing time: one document per input, each with its stats
    assert len(ns["docs"]) == 3
    assert all(d.metadata["lingua"]["method"] == "selective_context" for d in ns["docs"])


def check_agent_middleware(r: Ran) -> None:
    from langchain_core.messages import ToolMessage

    result, state = r.ns["result"], r.ns["state"]
    assert isinstance(result, ToolMessage)
    whole = "\n\n".join(
        d.page_content for d in r.ns["store"].similarity_search(r.ns["question"], 2)
    )
    assert len(result.content) < len(whole)
    assert "1889" in result.content, f"the answer was dropped: {result.content!r}"
    assert [d.id for d in result.artifact] and all("lingua" in d.metadata for d in result.artifact)
    assert state["messages"][-1].content == "In 1889."
    assert "True" in r.stdout


def check_lingua_retriever(r: Ran) -> None:
    doc = r.ns["doc"]
    assert "1889" in doc.page_content and "lingua" in doc.metadata


def check_llamaindex_agent(r: Ran) -> None:
    assert r.stdout.startswith("The tool says:") and len(r.stdout.strip()) > len("The tool says:")
    response = r.ns["engine"].query(r.ns["question"])
    assert all("lingua" in n.node.metadata for n in response.source_nodes)


def check_distill_align(r: Ran) -> None:
    kept = ["council", "met", "May", "14,", "1787,", "voted", "7", "to", "2."]
    assert r.stdout.strip() == f"{kept} 0.0"


def check_on_error(r: Ran) -> None:
    assert r.ns["compressor"].on_error == "passthrough"


def check_index_page(r: Ran) -> None:
    check_quickstart(r)


def check_stored_scores(r: Ran) -> None:
    ns = r.ns
    assert all(isinstance(m["lingua_scores"], str) for m in ns["metadatas"])
    assert ns["comp"].score_stats()["stored"] > 0  # the stored rows were used
    online = ns["comp"].compress(ns["passages"], rate=0.33)
    # "Results with stored scores therefore equal online results"
    assert [x.text for x in ns["results"]] == [x.text for x in online]


def check_stored_langchain(r: Ran) -> None:
    ns = r.ns
    assert all(isinstance(d.metadata["lingua_scores"], str) for d in ns["indexed"])
    assert ns["compressed"]
    assert all(d.metadata["lingua"]["method"] == "coarse_to_fine" for d in ns["compressed"])
    assert all("lingua_scores" not in d.metadata for d in ns["compressed"])  # payload left out
    assert ns["indexed"][0].metadata["lingua"]["method"] == "coarse_to_fine"  # one default


def check_score_cache(r: Ran) -> None:
    assert (r.home / ".cache" / "lingua-scores" / "scores.sqlite").is_file()
    stats = r.ns["comp"].score_stats()
    assert stats["cache_hits"] + stats["cache_misses"] > 0, stats


def check_longllmlingua(r: Ran) -> None:
    ns = r.ns
    assert len(ns["results"]) == len(ns["passages"])
    assert ns["prompt_context"]


def check_pruner(r: Ran) -> None:
    results = r.ns["results"]
    assert len(results) == len(r.ns["passages"])  # one per passage, in order
    assert "Peking" in results[0].text and results[0].order == 0
    assert "Summer Olympics" not in results[0].text


def check_remote(r: Ran) -> None:
    from lingua_core import get_compressor

    ns = r.ns
    remote = ns["remote"].compress(ns["docs"], query=QUESTION, rate=0.3)
    local = get_compressor("coarse_to_fine").compress(ns["docs"], query=QUESTION, rate=0.3)
    assert [x.text for x in remote] == [x.text for x in local]


CHECKS: dict[tuple[str, int], Callable[[Ran], None]] = {
    ("README.md", 0): check_quickstart,
    ("README.md", 1): check_langchain_retriever,
    ("README.md", 2): check_llamaindex_engine,
    ("docs/agents.md", 0): check_agent_middleware,
    ("docs/agents.md", 1): check_lingua_retriever,
    ("docs/agents.md", 2): check_llamaindex_agent,
    ("docs/frameworks.md", 0): check_frameworks_langchain,
    ("docs/frameworks.md", 1): check_llamaindex_engine,
    ("docs/frameworks.md", 2): check_on_error,
    ("docs/index.md", 0): check_index_page,
    ("docs/indexing.md", 0): check_stored_scores,
    ("docs/indexing.md", 1): check_stored_langchain,
    ("docs/indexing.md", 2): check_score_cache,
    ("docs/methods.md", 0): check_longllmlingua,
    ("docs/pruners.md", 0): check_pruner,
    ("docs/train_llmlingua2.md", 0): check_distill_align,
    ("docs/serving.md", 0): check_remote,
}


# --- running the python blocks ---------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def doc_server(tmp_path_factory: pytest.TempPathFactory):
    """``lingua serve --method coarse_to_fine`` with the key "..." on a free loopback port."""
    httpx = pytest.importorskip("httpx")
    pytest.importorskip("fastapi")
    port = _free_port()
    log = tmp_path_factory.mktemp("doc-serve") / "stderr.log"
    cmd = [str(BIN / "lingua"), "serve", "--port", str(port), "--method", "coarse_to_fine"]
    env = {**os.environ, "LINGUA_API_KEY": "..."}
    with open(log, "wb") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    try:
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "lingua serve did not start:\n" + log.read_text()
            time.sleep(0.2)
        yield url
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


@pytest.fixture
def snippet_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A throwaway HOME ("~" in a snippet), keeping the converted models and the hub cache."""
    from lingua_core.models.embedded import cache_dir

    monkeypatch.setenv("LINGUA_CACHE_DIR", str(cache_dir()))
    hf_home = os.environ.get("HF_HOME") or os.path.expanduser("~/.cache/huggingface")
    monkeypatch.setenv("HF_HOME", hf_home)
    monkeypatch.delenv("LINGUA_SCORE_CACHE", raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


def _python_params() -> list[Any]:
    params = []
    for b in PYTHON:
        key = (b.page, b.index)
        marks = []
        if key in SKIP_PYTHON:
            marks.append(pytest.mark.skip(reason=SKIP_PYTHON[key]))
        if key in SLOW_PYTHON:
            marks.append(pytest.mark.slow)
        params.append(pytest.param(b, marks=marks, id=f"{b.page}:python{b.index}:L{b.line}"))
    return params


def _namespace(block: Block, run: Callable[[Block, dict[str, Any]], None]) -> dict[str, Any]:
    """A fresh namespace, or on a SHARED_NAMESPACE page the one left by the earlier blocks."""
    ns: dict[str, Any] = {"__name__": "__main__"}
    if block.page in SHARED_NAMESPACE:
        for earlier in PYTHON:
            if earlier.page == block.page and earlier.index < block.index:
                run(earlier, ns)
    return ns


@pytest.mark.parametrize("block", _python_params())
def test_python_snippet(block: Block, request, snippet_home: Path, capsys) -> None:
    from langchain_core.tracers.context import collect_runs

    url = (
        request.getfixturevalue("doc_server") if (block.page, block.index) in NEEDS_SERVER else None
    )

    def run(b: Block, ns: dict[str, Any]) -> None:
        source = b.source
        if url is not None:
            assert SNIPPET_URL in source
            source = source.replace(SNIPPET_URL, url)
        # Blank lines first, so that a traceback names the page's own line numbers.
        code = compile("\n" * (b.line - 1) + source, str(ROOT / b.page), "exec")
        exec(code, ns)

    ns = _namespace(block, run)
    with collect_runs() as collector:
        run(block, ns)
    out = capsys.readouterr().out
    with capsys.disabled():
        sys.stdout.write(f"\n--- {block.page} python block {block.index} printed:\n{out}")
    check = CHECKS.get((block.page, block.index))
    assert check is not None, f"no check for {block.page} python block {block.index}: add one"
    check(Ran(ns, out, list(collector.traced_runs), snippet_home))


# --- the bash blocks -------------------------------------------------------------------------


def _commands(source: str) -> list[str]:
    """One shell command per logical line (backslash continuations joined, comments dropped)."""
    out = []
    for line in source.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        if words:
            out.append(shlex.join(words))
    return out


# Commands that do not run here, matched in order against the command, with the reason. Any
# other command must be a `lingua ...` one: it runs (see test_bash_command).
SKIP_BASH: list[tuple[str, str]] = [
    (r"^(\S+=\S+ )*make ", "make sets up the venv and runs the whole suite, this file included"),
    (r"^pip install ", "installs packages from a registry (no network here)"),
    (
        r"^(\S+/)?python benchmarks/",
        "a benchmark script (GPU or long); "
        "tests/integration/test_gpu_bench.py runs benchmarks/gpu.py --device cpu --quick",
    ),
    (r"llmlingua2:model=microsoft/", "downloads the LLMLingua-2 checkpoint from the hub"),
    (r"^lingua eval run .*--questions 500:700", "a rate sweep over 200 questions: hours on CPU"),
    (r"^lingua eval report results/", "reads the results file that the run above writes"),
    (r"--reader anthropic:", "a hosted reader: needs an API key and the network"),
    (r"--reader local", "the local study phase: 9 minutes of SmolLM2 reading (docs/results.md)"),
    (
        r"^(\S+=\S+ )*lingua serve",
        "a long-running server: tests/integration/test_serve_*.py start it, "
        "and the serving.md python block runs against one",
    ),
    (
        r"^lingua corpus ",
        "a Ray Data run over the user's files, a placeholder model folder or a cluster: "
        "tests/integration/test_corpus_ray.py runs lingua corpus",
    ),
]


@dataclass(frozen=True)
class Command:
    block: Block
    index: int
    text: str


COMMANDS = [
    Command(b, i, c) for b in BLOCKS if b.lang == "bash" for i, c in enumerate(_commands(b.source))
]


def _skip_reason(command: str) -> str | None:
    for pattern, reason in SKIP_BASH:
        if re.search(pattern, command):
            return reason
    return None


def _bash_params() -> list[Any]:
    params = []
    for c in COMMANDS:
        reason = _skip_reason(c.text)
        marks = [pytest.mark.skip(reason=reason)] if reason else [pytest.mark.slow]
        cid = f"{c.block.page}:bash{c.block.index}:L{c.block.line}:cmd{c.index}"
        params.append(pytest.param(c, marks=marks, id=cid))
    return params


@pytest.mark.parametrize("command", _bash_params())
def test_bash_command(command: Command) -> None:
    words = shlex.split(command.text)
    assert words[0] == "lingua", f"neither a lingua command nor in SKIP_BASH: {command.text}"
    if "../shared/data" in command.text and not (ROOT.parent / "shared" / "data").is_dir():
        pytest.skip("shared data not found at ../shared/data")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.setdefault("HF_HUB_OFFLINE", "1")
    # The docs' commands run from the repository root (their ../shared/data paths say so).
    proc = subprocess.run(
        ["bash", "-c", command.text],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    expected = command.block.expected_output
    if expected is not None:
        runnable = [c for c in COMMANDS if c.block == command.block and not _skip_reason(c.text)]
        assert runnable == [command], "an output block must follow one runnable command"
        for line in expected.splitlines():
            assert line.strip() in proc.stdout, (line, proc.stdout)


# --- the lists above stay in step with the pages ---------------------------------------------


def test_every_listed_snippet_exists() -> None:
    keys = {(b.page, b.index) for b in PYTHON}
    assert len(PYTHON) >= 12, [(b.page, b.index) for b in PYTHON]
    for name, listed in [
        ("SKIP_PYTHON", set(SKIP_PYTHON)),
        ("SLOW_PYTHON", SLOW_PYTHON),
        ("NEEDS_SERVER", NEEDS_SERVER),
        ("CHECKS", set(CHECKS)),
    ]:
        assert listed <= keys, f"{name} names blocks that are gone: {sorted(listed - keys)}"
    assert set(CHECKS) | set(SKIP_PYTHON) == keys, "every python block needs a check or a skip"
    assert SHARED_NAMESPACE.issubset(b.page for b in PYTHON)
    # every bash command is either skipped with a reason or a lingua command
    for c in COMMANDS:
        assert _skip_reason(c.text) or shlex.split(c.text)[0] == "lingua", c.text
