"""Readers of a study: ``none``, ``local[:FOLDER]`` (embedded SmolLM2), ``fake`` or a hosted model.

A reader answers chat messages; :func:`get_reader` builds one from ``--reader``:

- ``none``: no reader (offline proxies only);
- ``local``: the embedded SmolLM2-135M-Instruct (weak, offline); ``local:FOLDER`` another
  local causal LM (greedy decoding);
- ``fake``: a deterministic stand-in for tests (it repeats the prompt's line that shares the
  most words with the prompt's last line);
- ``PROVIDER:MODEL`` (``anthropic:claude-3-haiku-20240307``, ``openai:gpt-4o-mini``,
  ``deepseek:deepseek-chat``, ``together:...``): any chat model LangChain's
  ``init_chat_model`` builds, its key from the provider's usual environment variable. The core
  imports no LLM framework: the chat model comes from a reader plugin (the entry-point group
  ``lingua.readers``; ``langchain_lingua`` registers one). A missing plugin, provider package or
  key is a clear error, raised by :meth:`HostedReader.check` before a run starts (a dry run
  needs none of them). Rate limits and overload are retried with exponential backoff.

:class:`ResponseCache` records every reply as it arrives, keyed by reader and prompt, so that an
interrupted run resumes without paying for a call twice.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol

logger = logging.getLogger(__name__)

Messages = list[dict[str, str]]

#: Provider -> (LangChain package, import name, API-key environment variable).
PROVIDERS: dict[str, tuple[str, str, str]] = {
    "anthropic": ("langchain-anthropic", "langchain_anthropic", "ANTHROPIC_API_KEY"),
    "openai": ("langchain-openai", "langchain_openai", "OPENAI_API_KEY"),
    "deepseek": ("langchain-deepseek", "langchain_deepseek", "DEEPSEEK_API_KEY"),
    "together": ("langchain-together", "langchain_together", "TOGETHER_API_KEY"),
}

#: Dollars per million input and output tokens (list prices; a study file can override them).
PRICES: dict[str, tuple[float, float]] = {
    "anthropic:claude-3-haiku-20240307": (0.25, 1.25),
    "anthropic:claude-3-5-haiku-latest": (0.80, 4.00),
    "openai:gpt-4o-mini": (0.15, 0.60),
    "openai:gpt-4o": (2.50, 10.00),
    "deepseek:deepseek-chat": (0.27, 1.10),
    "together:meta-llama/Llama-3.3-70B-Instruct-Turbo": (0.88, 0.88),
}

#: Entry-point group of the plugins that build hosted chat models: ``factory(spec) -> chat``,
#: where ``chat`` has LangChain's ``bind(max_tokens=...)`` and ``invoke(messages)``.
READER_PLUGINS = "lingua.readers"

_RETRIABLE = re.compile(r"rate.?limit|overloaded|too many requests|\b429\b|\b503\b|\b529\b", re.I)


class Reader(Protocol):
    """Answers chat messages with at most ``max_tokens`` tokens."""

    name: str

    def __call__(self, messages: Messages, max_tokens: int) -> str: ...  # noqa: D102


class FakeReader:
    """A deterministic reader for tests: it echoes the most relevant line of the prompt.

    It repeats the line of the user message that shares the most words with the message's last
    line (first such line on ties), cut to ``max_tokens`` words, so what it "answers" depends
    on what the compressed context kept, as a real reader's answer does.
    """

    name = "fake"

    def __call__(self, messages: Messages, max_tokens: int) -> str:
        """The reply."""
        lines = [ln for ln in messages[-1]["content"].splitlines() if ln.strip()]
        if not lines:
            return ""
        last = set(re.findall(r"\w+", lines[-1].lower()))
        body = lines[:-1] or lines
        best = max(body, key=lambda ln: len(last & set(re.findall(r"\w+", ln.lower()))))
        return " ".join(best.split()[:max_tokens])


class LocalReader:
    """The embedded SmolLM2 (or another local causal LM) as a reader."""

    name = "local"

    def __init__(self, model: str | None = None) -> None:
        self.model = model
        self.name = "local" if model is None else f"local:{model}"  # cached replies' key
        self._readers: dict[int, Any] = {}

    def __call__(self, messages: Messages, max_tokens: int) -> str:
        """The reply (greedy decoding)."""
        if max_tokens not in self._readers:
            from lingua_core.models.generate import Reader as Generator

            self._readers[max_tokens] = Generator(self.model, max_new_tokens=max_tokens)
        return str(self._readers[max_tokens].generate(messages))


class HostedReader:
    """A hosted chat model through LangChain's ``init_chat_model``.

    Args:
        spec: ``"provider:model"``.
        retries: Attempts on rate limits and overload before the error is recorded.
        backoff: First wait in seconds (doubled each retry, with jitter).
    """

    def __init__(self, spec: str, *, retries: int = 6, backoff: float = 2.0) -> None:
        provider, _, model = spec.partition(":")
        if provider not in PROVIDERS or not model:
            msg = (
                f"unknown reader {spec!r}; valid: none, local, fake, or PROVIDER:MODEL with "
                f"PROVIDER one of {', '.join(PROVIDERS)}"
            )
            raise ValueError(msg)
        self.name = spec
        self.provider, self.model = provider, model
        self.retries, self.backoff = retries, backoff
        self._chat: Any = None
        self._lock = threading.Lock()

    def check(self) -> None:
        """Fail now, naming what is missing: the reader plugin, provider package or key.

        Raises:
            ImportError: For a missing plugin or provider package (with its ``pip install``).
            ValueError: For a missing API key (naming its environment variable).
        """
        package, module, key = PROVIDERS[self.provider]
        if self._chat is None and not _plugins():
            msg = (
                f"reader {self.name!r} needs a hosted-reader plugin: pip install "
                "'lingua-rag[langchain,hosted]' (langchain_lingua registers one)"
            )
            raise ImportError(msg)
        if importlib.util.find_spec(module) is None:
            msg = f"reader {self.name!r} needs the package {package!r}: pip install {package}"
            raise ImportError(msg)
        if not os.environ.get(key):
            msg = f"reader {self.name!r} needs an API key in the environment variable {key}"
            raise ValueError(msg)

    def _model(self, max_tokens: int) -> Any:
        with self._lock:
            if self._chat is None:
                self.check()
                self._chat = _plugins()[0](self.name)
        return self._chat.bind(max_tokens=max_tokens)

    def __call__(self, messages: Messages, max_tokens: int) -> str:
        """The reply; rate limits and overload are retried with backoff."""
        chat = self._model(max_tokens)
        pairs = [(m["role"], m["content"]) for m in messages]
        for attempt in range(self.retries):
            try:
                content = chat.invoke(pairs).content
                break
            except Exception as e:
                if attempt == self.retries - 1 or not _RETRIABLE.search(f"{type(e).__name__} {e}"):
                    raise
                wait = self.backoff * 2**attempt * (1 + random.random() / 4)
                logger.warning("%s: %s; retrying in %.1f s", self.name, e, wait)
                time.sleep(wait)
        if isinstance(content, list):
            content = " ".join(
                b.get("text", "") if isinstance(b, dict) else str(b) for b in content
            )
        return str(content).strip()


def _plugins() -> list[Callable[[str], Any]]:
    """The installed hosted-reader factories (entry-point group :data:`READER_PLUGINS`)."""
    return [ep.load() for ep in entry_points(group=READER_PLUGINS)]


def get_reader(spec: str | None) -> Reader | None:
    """The reader ``spec`` names (``None`` for ``"none"``).

    Raises:
        ValueError: For an unknown spec (naming the valid ones).
    """
    if spec in (None, "", "none"):
        return None
    if spec == "fake":
        return FakeReader()
    if spec == "local":
        return LocalReader()
    if str(spec).startswith("local:"):  # another local causal LM: a folder
        folder = str(spec).partition(":")[2]
        if not os.path.isdir(folder):
            msg = f"reader {spec!r}: local:FOLDER needs a model folder, and {folder!r} is not one"
            raise ValueError(msg)
        return LocalReader(os.path.abspath(folder))
    return HostedReader(str(spec))


def price(
    spec: str, overrides: dict[str, tuple[float, float]] | None = None
) -> tuple[float, float] | None:
    """Dollars per million input and output tokens of reader ``spec``; ``None`` if unknown."""
    if spec in ("none", "local", "fake"):
        return (0.0, 0.0)
    table = {**PRICES, **(overrides or {})}
    return table.get(spec)


def trim_cut_line(path: Path) -> str:
    """Drop an appended JSONL file's last line if a crash cut it (no newline); the text left.

    Appending after such a line would glue the next record onto it. An absent file is "".
    """
    if not path.is_file():
        return ""
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        data = data[: data.rfind(b"\n") + 1]
        path.write_bytes(data)
    return data.decode("utf-8")


class ResponseCache:
    """Every reply of a run, appended to a JSONL file as it arrives (resume without re-paying).

    Args:
        path: The file (created if missing; read back on creation).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._replies: dict[str, str] = {}
        text = trim_cut_line(self.path)  # the next reply starts a line of its own
        if text:
            for line in text.splitlines():
                try:
                    row = json.loads(line)
                    self._replies[row["key"]] = row["reply"]
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut by a crash
        self.hits = 0

    @staticmethod
    def key(reader: str, messages: Messages, max_tokens: int) -> str:
        """The cache key of one call."""
        blob = json.dumps([reader, messages, max_tokens], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def ask(
        self, reader: Reader, messages: Messages, max_tokens: int, *, record_empty: bool = True
    ) -> str:
        """The reply to ``messages``: recorded, else asked of ``reader`` and recorded.

        With ``record_empty=False`` an empty reply is returned but not recorded (asked again
        next time).
        """
        k = self.key(reader.name, messages, max_tokens)
        with self._lock:
            if k in self._replies:
                self.hits += 1
                return self._replies[k]
        reply = reader(messages, max_tokens)
        if not record_empty and not reply.strip():
            return reply
        with self._lock:
            self._replies[k] = reply
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps({"key": k, "reader": reader.name, "reply": reply}) + "\n")
        return reply
