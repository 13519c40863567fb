"""A small local reader LLM (the embedded SmolLM2-135M-Instruct by default) for offline RAG.

Greedy decoding with the model's chat template. It is a weak reader (135M parameters): good
enough to show a RAG pipeline end to end offline, not to judge answer quality.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lingua_core.models import LoadedModel, load_causal_lm


class Reader:
    """Generates a reply to chat messages with a local causal LM.

    Args:
        model: Causal LM folder, hub id or ``None`` (the embedded SmolLM2).
        device: ``None`` auto-detects.
        dtype: As in :func:`lingua_core.models.load_causal_lm`.
        max_new_tokens: Most tokens generated.
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        device: str | None = None,
        dtype: Any = "auto",
        max_new_tokens: int = 48,
    ) -> None:
        self.model = model
        self.device = device
        self.dtype = dtype
        self.max_new_tokens = max_new_tokens

    def _loaded(self) -> LoadedModel:
        return load_causal_lm(self.model, device=self.device, dtype=self.dtype)

    def prompt_tokens(self, messages: Sequence[Mapping[str, str]]) -> int:
        """Tokens of the prompt the messages make (chat template applied)."""
        enc = self._encode(messages)
        return int(enc["input_ids"].shape[1])

    def _encode(self, messages: Sequence[Mapping[str, str]]) -> Any:
        tok = self._loaded().tokenizer
        return tok.apply_chat_template(
            [dict(m) for m in messages],
            add_generation_prompt=True,
            return_tensors="pt",
            return_dict=True,
        )

    def generate(
        self, messages: Sequence[Mapping[str, str]], stop: Sequence[str] | None = None
    ) -> str:
        """The model's reply to ``messages`` (dicts with ``role`` and ``content``).

        Args:
            messages: The conversation.
            stop: Strings at which the reply is cut.

        Returns:
            The generated text, without the prompt.
        """
        loaded = self._loaded()
        enc = self._encode(messages).to(loaded.device)
        tok = loaded.tokenizer
        out = loaded.run(
            lambda: loaded.model.generate(
                **enc,
                max_new_tokens=self.max_new_tokens,
                do_sample=False,
                pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id,
            )
        )
        new_tokens = out[0, enc["input_ids"].shape[1] :]
        text = str(tok.decode(new_tokens, skip_special_tokens=True)).strip()
        for s in stop or ():
            if s and s in text:
                text = text[: text.index(s)]
        return text
