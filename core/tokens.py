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
import os
import re
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from lingua_core._deps import require


def encode_with_offsets(
    tokenizer: Any, texts: Sequence[str]
) -> tuple[Any, list[tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """Token ids and character offsets of each text, no special tokens, in one tokenizer call.

    Args:
        tokenizer: A fast Hugging Face tokenizer (it gives exact offsets).
        texts: The texts.

    Returns:
        The tokenizer's encoding (for ``word_ids``), and per text its ids (int64), token starts
        and token ends.
    """
    enc = tokenizer(
        list(texts), add_special_tokens=False, return_offsets_mapping=True, verbose=False
    )
    out = []
    for ids, offs in zip(enc["input_ids"], enc["offset_mapping"]):
        arr = np.asarray(offs, dtype=np.int64).reshape(-1, 2)
        out.append((np.asarray(ids, dtype=np.int64), arr[:, 0].copy(), arr[:, 1].copy()))
    return enc, out


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

    def __init__(self, tokenizer: Any, name: str | None = None) -> None:
        self.tokenizer = tokenizer
        self.name = name or getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__
        self._fast = bool(getattr(tokenizer, "is_fast", False))

    def count(self, texts: Sequence[str]) -> list[int]:
        """Number of tokens of each text."""
        if not texts:
            return []
        enc = self.tokenizer(list(texts), add_special_tokens=False, verbose=False)["input_ids"]
        return [len(ids) for ids in enc]

    def token_ends(self, text: str) -> np.ndarray:
        """End offsets of the tokens of ``text`` (fast tokenizers give exact offsets)."""
        if self._fast:
            return encode_with_offsets(self.tokenizer, [text])[1][0][2]
        # Slow tokenizers have no offsets: spread the tokens of each word over the word.
        return _spread_by_words(text, self.tokenizer.tokenize)


def token_ends_many(counter: TokenCounter, texts: Sequence[str]) -> list[np.ndarray]:
    """``counter.token_ends`` of each text; one tokenizer call for a fast HF tokenizer."""
    if isinstance(counter, HFTokenCounter) and counter._fast and len(texts) > 1:
        return [ends for _, _, ends in encode_with_offsets(counter.tokenizer, texts)[1]]
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
