"""Hosted chat models as study readers: the ``lingua.readers`` plugin of ``lingua eval``.

``lingua eval run --reader PROVIDER:MODEL`` (e.g. ``anthropic:claude-3-haiku-20240307``) asks
this plugin for the chat model; the core's reader (:class:`lingua_core.eval.readers.HostedReader`)
then retries rate limits, bounds concurrency and records every reply. The core imports no LLM
framework; this adapter does.
"""

from __future__ import annotations

import warnings
from typing import Any

from lingua_core._deps import require


def chat_model(spec: str) -> Any:
    """The chat model ``"provider:model"`` names, via LangChain's ``init_chat_model``.

    Greedy decoding (``temperature=0``); the key comes from the provider's usual environment
    variable.

    Raises:
        ImportError: Without ``langchain`` (or ``langchain-classic``) or the provider's package.
    """
    require("langchain_core")
    try:
        from langchain.chat_models import init_chat_model
    except ImportError:  # langchain-classic keeps the same entry point (deprecated there)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                from langchain_classic.chat_models import init_chat_model  # type: ignore[no-redef]
        except ImportError:
            msg = (
                "hosted readers need LangChain's init_chat_model: pip install 'lingua-rag[hosted]'"
            )
            raise ImportError(msg) from None
    provider, _, model = spec.partition(":")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return init_chat_model(model, model_provider=provider, temperature=0)
