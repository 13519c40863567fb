"""Token counters: rates and budgets are met in the tokens of the counter a compressor uses.

A counter counts texts (batch-first) and tells where each token of a text ends, so that the
selection step can charge every unit the tokens it holds. Counters:

* the compressor's own tokenizer (the default for model-based methods);
* ``"words"``: a dependency-free regex counter (words and punctuation marks; the default for the
  model-free baselines);
* a tiktoken encoding name (``"cl100k_base"``, ``"o200k_base"``, ...), read offline from
  ``TIKTOKEN_CACHE_DIR``, tiktoken's own cache, or the copy that ``llama-index-core`` ships;
* any Hugging Face tokenizer: a hub id, a local folder, or a tokenizer object;
* any object with the :class:`TokenCounter` methods.
"""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import os
import re
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from lingua_core._deps import require


class Encoded:
    """One text's tokens (no special tokens): ids, character offsets and word ids, on demand."""

    __slots__ = ("_enc", "_ids", "_offsets")

    def __init__(self, encoding: Any) -> None:
        self._enc = encoding  # a ``tokenizers.Encoding``
        self._ids: np.ndarray | None = None
        self._offsets: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self._enc)

    @property
    def ids(self) -> np.ndarray:
        """Token ids (int64)."""
        if self._ids is None:
            self._ids = np.asarray(self._enc.ids, dtype=np.int64)
        return self._ids

    def _offs(self) -> np.ndarray:
        if self._offsets is None:
            flat = itertools.chain.from_iterable(self._enc.offsets)
            self._offsets = np.fromiter(flat, dtype=np.int64, count=2 * len(self._enc))
            self._offsets = self._offsets.reshape(-1, 2)
        return self._offsets

    @property
    def starts(self) -> np.ndarray:
        """Start character offset of every token."""
        return self._offs()[:, 0]

    @property
    def ends(self) -> np.ndarray:
        """End character offset of every token."""
        return self._offs()[:, 1]

    def word_ids(self) -> np.ndarray:
        """The tokenizer's word index of every token (-1 where it has none)."""
        return np.asarray([-1 if w is None else w for w in self._enc.word_ids], dtype=np.int64)


_ONE_PASS: ContextVar[dict[tuple[int, str], Encoded] | None] = ContextVar(
    "lingua_one_pass", default=None
)


@contextmanager
def one_pass() -> Iterator[None]:
    """Within the block, each text is tokenized once per tokenizer, whoever asks.

    A compression call counts its texts, scores them and charges their units, each step with the
    same tokenizer: the first step's encodings serve the others. Nothing outlives the block.
    """
    if _ONE_PASS.get() is not None:
        yield
        return
    token = _ONE_PASS.set({})
    try:
        yield
    finally:
        _ONE_PASS.reset(token)


def _backend(tokenizer: Any) -> Any:
    """The Rust backend of a fast tokenizer, if calling it directly gives what its call gives.

    That holds with no truncation, no padding and the same special-token setting. Calling it
    directly skips converting every encoding to Python lists, and leaves the shared backend's
    settings alone (the tokenizer's call resets them, a race between threads).
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if (
        backend is not None
        and backend.truncation is None
        and backend.padding is None
        and bool(getattr(backend, "encode_special_tokens", False))
        == bool(getattr(tokenizer, "split_special_tokens", False))
    ):
        return backend
    return None


def _backend_encode(tokenizer: Any, texts: list[str]) -> list[Any]:
    """``tokenizers`` encodings of texts without special tokens, as the tokenizer's call gives."""
    backend = _backend(tokenizer)
    if backend is not None:
        return list(backend.encode_batch(texts, add_special_tokens=False))
    enc = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    return list(enc.encodings)


def encode_many(tokenizer: Any, texts: Sequence[str]) -> list[Encoded]:
    """Tokens of each text (no special tokens), in one tokenizer call.

    Inside :func:`one_pass`, a text this tokenizer has already read is not read again.

    Args:
        tokenizer: A fast Hugging Face tokenizer (it gives exact offsets).
        texts: The texts.
    """
    texts = list(texts)
    memo = _ONE_PASS.get()
    if memo is None:
        return [Encoded(e) for e in _backend_encode(tokenizer, texts)] if texts else []
    tid = id(tokenizer)
    out: list[Encoded | None] = [memo.get((tid, t)) for t in texts]
    todo = list(dict.fromkeys(t for t, e in zip(texts, out) if e is None))
    if todo:
        for t, e in zip(todo, _backend_encode(tokenizer, todo)):
            memo[(tid, t)] = Encoded(e)
        out = [memo[(tid, t)] for t in texts]
    return [e for e in out if e is not None]


@runtime_checkable
class TokenCounter(Protocol):
    """What the core needs of a tokenizer to meet budgets."""

    name: str

    def count(self, texts: Sequence[str]) -> list[int]:
        """Number of tokens of each text."""
        ...

    def token_ends(self, text: str) -> np.ndarray:
        """End character offset of every token of ``text`` (int64, in order)."""
        ...


_WORDS_RE = re.compile(r"\w+|[^\w\s]", re.UNICODE)


class WordCounter:
    r"""Counts words and punctuation marks (``\w+|[^\w\s]``); needs nothing installed."""

    name = "words"

    def count(self, texts: Sequence[str]) -> list[int]:
        """Number of tokens of each text."""
        return [sum(1 for _ in _WORDS_RE.finditer(t)) for t in texts]

    def token_ends(self, text: str) -> np.ndarray:
        """End offsets of the tokens of ``text``."""
        return np.fromiter((m.end() for m in _WORDS_RE.finditer(text)), dtype=np.int64)


class HFTokenCounter:
    """Counts with a Hugging Face tokenizer (no special tokens added)."""

    #: Texts up to this many characters (words, short units) have their counts memoized.
    SHORT = 32
    #: How many short texts' counts the memo holds (it starts again when full: ~6 MB).
    MEMO_SIZE = 1 << 15

    def __init__(self, tokenizer: Any, name: str | None = None) -> None:
        self.tokenizer = tokenizer
        self.name = name or getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__
        self._fast = bool(getattr(tokenizer, "is_fast", False))
        self._short: dict[str, int] = {}

    def count(self, texts: Sequence[str]) -> list[int]:
        """Number of tokens of each text.

        Short texts (words: LLMLingua-2 weighs each word on its own) are counted once and
        remembered; longer ones are tokenized once per call (:func:`one_pass`).
        """
        if not texts:
            return []
        if not self._fast:
            enc = self.tokenizer(list(texts), add_special_tokens=False, verbose=False)
            return [len(ids) for ids in enc["input_ids"]]
        memo = self._short
        out = [memo.get(t, -1) for t in texts]  # only short texts are ever kept
        if -1 not in out:
            return out
        short = list(dict.fromkeys(t for t, n in zip(texts, out) if n < 0 and len(t) <= self.SHORT))
        if short:
            if len(memo) + len(short) > self.MEMO_SIZE:
                memo.clear()
            backend = _backend(self.tokenizer)
            encs = (
                backend.encode_batch_fast(short, add_special_tokens=False)
                if backend is not None and hasattr(backend, "encode_batch_fast")
                else _backend_encode(self.tokenizer, short)
            )
            found = {t: len(e) for t, e in zip(short, encs)}
            memo.update(found)
            out = [found.get(t, n) for t, n in zip(texts, out)]
        rest = [i for i, n in enumerate(out) if n < 0]
        if rest:
            for i, e in zip(rest, encode_many(self.tokenizer, [texts[i] for i in rest])):
                out[i] = len(e)
        return out

    def forget(self) -> None:
        """Drop the memoized counts of short texts."""
        self._short.clear()

    def token_ends(self, text: str) -> np.ndarray:
        """End offsets of the tokens of ``text`` (fast tokenizers give exact offsets)."""
        if self._fast:
            return encode_many(self.tokenizer, [text])[0].ends
        # Slow tokenizers have no offsets: spread the tokens of each word over the word.
        return _spread_by_words(text, self.tokenizer.tokenize)


def shared_counter(loaded: Any, name: str) -> HFTokenCounter:
    """The counter of a loaded model's tokenizer: one per model and name.

    Every compressor on that model shares it, and so its memo of short texts' counts.
    """
    key = f"counter:{name}"
    counter = loaded.facts.get(key)
    if counter is None:
        counter = loaded.facts.setdefault(key, HFTokenCounter(loaded.tokenizer, name=name))
    return counter  # type: ignore[no-any-return]


def token_ends_many(counter: TokenCounter, texts: Sequence[str]) -> list[np.ndarray]:
    """``counter.token_ends`` of each text; one tokenizer call for a fast HF tokenizer."""
    if isinstance(counter, HFTokenCounter) and counter._fast and len(texts) > 1:
        return [e.ends for e in encode_many(counter.tokenizer, texts)]
    return [counter.token_ends(t) for t in texts]


class TiktokenCounter:
    """Counts with a tiktoken encoding."""

    def __init__(self, encoding: Any) -> None:
        self.encoding = encoding
        self.name = encoding.name

    def count(self, texts: Sequence[str]) -> list[int]:
        """Number of tokens of each text."""
        if not texts:
            return []
        return [len(ids) for ids in self.encoding.encode_ordinary_batch(list(texts))]

    def token_ends(self, text: str) -> np.ndarray:
        """End offsets of the tokens of ``text``."""
        ids = self.encoding.encode_ordinary(text)
        if not ids:
            return np.zeros(0, dtype=np.int64)
        _, starts = self.encoding.decode_with_offsets(ids)
        ends = np.asarray([*starts[1:], len(text)], dtype=np.int64)
        # Tokens inside one multi-byte character share its start: they end where it ends.
        return np.maximum(ends, np.asarray(starts, dtype=np.int64) + 1).clip(max=len(text))


def _spread_by_words(text: str, tokenize: Any) -> np.ndarray:
    ends: list[int] = []
    for m in re.finditer(r"\S+", text):
        k = max(1, len(tokenize(m.group())))
        ends.extend([m.end()] * k)
    return np.asarray(ends, dtype=np.int64)


_TIKTOKEN_LOCK = threading.Lock()
_TIKTOKEN_CACHE: dict[str, TiktokenCounter] = {}
_TIKTOKEN_URLS = {
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
    "p50k_base": "https://openaipublic.blob.core.windows.net/encodings/p50k_base.tiktoken",
    "r50k_base": "https://openaipublic.blob.core.windows.net/encodings/r50k_base.tiktoken",
}


def _tiktoken_dirs() -> list[Path]:
    dirs = []
    for var in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if os.environ.get(var):
            dirs.append(Path(os.environ[var]))
    dirs.append(Path(tempfile.gettempdir()) / "data-gym-cache")
    spec = importlib.util.find_spec("llama_index")  # a namespace package: cheap, imports nothing
    if spec is not None and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            dirs.append(Path(loc) / "core" / "_static" / "tiktoken_cache")
    return dirs


def find_tiktoken_file(encoding_name: str) -> Path | None:
    """Local copy of a tiktoken encoding file, or ``None`` when there is none on this machine."""
    url = _TIKTOKEN_URLS.get(encoding_name)
    if url is None:
        return None
    key = hashlib.sha1(url.encode()).hexdigest()
    for d in _tiktoken_dirs():
        if (d / key).is_file():
            return d / key
    return None


def tiktoken_counter(encoding_name: str) -> TiktokenCounter:
    """A tiktoken counter, loaded from a local file whenever one exists (no network then).

    Raises:
        ImportError: If tiktoken is not installed.
        RuntimeError: If the encoding is neither on disk nor downloadable.
    """
    with _TIKTOKEN_LOCK:
        if encoding_name in _TIKTOKEN_CACHE:
            return _TIKTOKEN_CACHE[encoding_name]
        tiktoken = require("tiktoken")
        from tiktoken import load as tt_load
        from tiktoken_ext import openai_public

        local = find_tiktoken_file(encoding_name)
        original = openai_public.load_tiktoken_bpe
        if local is not None:
            # The encoding constructors only take a URL: hand them the local file instead,
            # for the duration of this (locked) call.
            def _local_loader(_url: str, expected_hash: str | None = None) -> dict[bytes, int]:
                return tt_load.load_tiktoken_bpe(str(local), expected_hash)

            openai_public.load_tiktoken_bpe = _local_loader
        try:
            ctor = openai_public.ENCODING_CONSTRUCTORS[encoding_name]
            encoding = tiktoken.Encoding(**ctor())
        except Exception as e:
            msg = (
                f"could not load the tiktoken encoding {encoding_name!r}: no local copy was found "
                f"in {[str(d) for d in _tiktoken_dirs()]} and downloading it failed. Set "
                "TIKTOKEN_CACHE_DIR to a folder holding it, or pip install llama-index-core "
                "(which ships cl100k_base)."
            )
            raise RuntimeError(msg) from e
        finally:
            openai_public.load_tiktoken_bpe = original
        counter = TiktokenCounter(encoding)
        _TIKTOKEN_CACHE[encoding_name] = counter
        return counter


def get_token_counter(spec: Any, default: TokenCounter | None = None) -> TokenCounter:
    """Resolve a ``token_counter=`` option into a counter.

    Args:
        spec: ``None`` (use ``default``), ``"words"``, a tiktoken encoding name, a Hugging Face
            tokenizer id, folder or object, a tiktoken ``Encoding``, or a :class:`TokenCounter`.
        default: The counter to use when ``spec`` is ``None``.

    Raises:
        TypeError: For an unsupported object.
        ValueError: When ``spec`` is ``None`` and there is no default.
    """
    if spec is None:
        if default is None:
            msg = "no token counter given and this compressor has no tokenizer of its own"
            raise ValueError(msg)
        return default
    if isinstance(spec, str):
        if spec == "words":
            return WordCounter()
        if spec in _TIKTOKEN_URLS:
            return tiktoken_counter(spec)
        from lingua_core.models import load_tokenizer

        return HFTokenCounter(load_tokenizer(spec), name=spec)
    if isinstance(spec, TokenCounter):
        return spec
    if type(spec).__module__.startswith("tiktoken"):
        return TiktokenCounter(spec)
    if callable(spec) and hasattr(spec, "convert_ids_to_tokens"):
        return HFTokenCounter(spec)
    msg = (
        f"unsupported token_counter {spec!r}: give 'words', a tiktoken encoding name "
        f"({', '.join(_TIKTOKEN_URLS)}), a Hugging Face tokenizer id, folder or object, or an "
        "object with count(texts) and token_ends(text)"
    )
    raise TypeError(msg)
