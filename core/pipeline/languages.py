"""Texts a word-based method cannot cut: scripts written without spaces between words.

Methods whose units come from whitespace (``random`` and ``naive`` on words or phrases,
Selective Context on words or phrases) find no word boundary in Chinese, Japanese, Thai, Lao,
Khmer or Burmese text: they cut it at most after full-width clause punctuation (see
:func:`lingua_core.pipeline.text.word_units`), so such a text is compressed clause by clause at
best, and one without that punctuation comes back whole at any rate. :func:`warn_spaceless_once`
says so, once per compressor: the method, and what to use instead.

The embedded models are English ones too: all-MiniLM-L6-v2 (the default method's encoder) was
trained on English sentence pairs, SmolLM2-135M (Selective Context, LLMLingua) mostly on English
text. The LLMLingua-2 checkpoints sit on multilingual encoders (XLM-RoBERTa, multilingual BERT).
"""

from __future__ import annotations

import logging
import re
import threading
import weakref
from collections.abc import Sequence
from typing import Any

logger = logging.getLogger(__name__)

#: Scripts written without spaces between words: Thai, Lao, Myanmar, Khmer, Hiragana, Katakana
#: and the CJK ideographs (extension A, the unified block, compatibility, extensions B and on).
SPACELESS_RANGES = (
    "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uf900-\ufaff\U00020000-\U0002fa1f"
)
_SPACELESS = re.compile(f"[{SPACELESS_RANGES}]")
#: Characters of a text looked at (its start): enough to tell its script, cheap on long texts.
_SAMPLE = 2000
#: Share of a text's letters and digits in those scripts above which it counts as spaceless.
SPACELESS_SHARE = 0.3

_USE_INSTEAD = (
    "no method here segments Chinese or Japanese words; unit='token' (llmlingua2, llmlingua, "
    "longllmlingua, selective_context) drops single tokens inside clauses, at the cost of "
    "cutting words"
)
#: What each word-based method should say to use instead.
ADVICE: dict[str, str] = {
    "random": f"use unit='sentence' for a control on whole sentences; {_USE_INSTEAD}",
    "naive": f"its stop words are English too; {_USE_INSTEAD}",
    "selective_context": f"the embedded SmolLM2 is trained mostly on English; {_USE_INSTEAD}",
    "llmlingua": f"the embedded SmolLM2 is trained mostly on English; {_USE_INSTEAD}",
    "longllmlingua": f"the embedded SmolLM2 is trained mostly on English; {_USE_INSTEAD}",
    "llmlingua2": f"the checkpoints are multilingual encoders; {_USE_INSTEAD}",
}

_WARNED: weakref.WeakSet[Any] = weakref.WeakSet()
_LOCK = threading.Lock()


def spaceless_share(text: str) -> float:
    """Share of ``text``'s letters and digits in scripts written without spaces between words.

    Only the first 2,000 characters are looked at.
    """
    sample = text[:_SAMPLE]
    letters = sum(1 for c in sample if c.isalnum())
    return len(_SPACELESS.findall(sample)) / letters if letters else 0.0


def is_spaceless(text: str) -> bool:
    """Whether ``text`` is mostly in a script without spaces between words (Chinese, ...)."""
    return spaceless_share(text) >= SPACELESS_SHARE


def warn_spaceless_once(owner: Any, texts: Sequence[str]) -> bool:
    """Log one warning per ``owner`` (a compressor) the first time it gets spaceless text.

    Args:
        owner: The compressor; its ``method`` names it in the warning (and picks the advice
            from :data:`ADVICE`).
        texts: The texts of a call.

    Returns:
        Whether this call logged the warning.
    """
    if owner in _WARNED or not any(is_spaceless(t) for t in texts):
        return False
    with _LOCK:
        if owner in _WARNED:
            return False
        _WARNED.add(owner)
    method = str(getattr(owner, "method", type(owner).__name__))
    advice = ADVICE.get(method, _USE_INSTEAD)
    logger.warning(
        "%s: a text is written without spaces between words (Chinese, Japanese, Thai, ...); "
        "%s finds words by whitespace, so it cuts such text only after full-width clause "
        "punctuation, and a text without that punctuation comes back whole at any rate. %s. "
        "(Logged once per compressor.)",
        method,
        method,
        advice[:1].upper() + advice[1:],
    )
    return True
