"""A small local reader LLM (the embedded SmolLM2-135M-Instruct by default) for offline RAG.

Greedy decoding with the model's chat template. It is a weak reader (135M parameters): good
enough to show a RAG pipeline end to end offline, not to judge answer quality.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, cast

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

    def warmup(self) -> None:
        """Load the model now (shared with every reader of the same model, device and dtype)."""
        self._loaded()

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
        cutter = StopCutter(stop)
        # Decoding ends once the reply, as StopCutter reads it, holds a stop string: the reply
        # is the same as decoding on, fewer tokens are generated.
        until = (
            {"stopping_criteria": _stop_on(cutter.stop, tok, enc["input_ids"].shape[1])}
            if cutter.stop
            else {}
        )
        out = loaded.run(
            lambda: loaded.model.generate(
                **enc,
                max_new_tokens=self.max_new_tokens,
                do_sample=False,
                pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id,
                **until,
            )
        )
        new_tokens = out[0, enc["input_ids"].shape[1] :]
        text = str(tok.decode(new_tokens, skip_special_tokens=True))
        return cutter.feed(text, final=True)

    def stream(
        self, messages: Sequence[Mapping[str, str]], stop: Sequence[str] | None = None
    ) -> Iterator[str]:
        """The reply of :meth:`generate`, in pieces as the model writes it.

        The pieces join to exactly what :meth:`generate` returns (same decoding, same cut at
        ``stop``); generation ends as soon as a stop string is written.

        Args:
            messages: The conversation.
            stop: Strings at which the reply is cut.

        Yields:
            Non-empty pieces of the reply, in order.
        """
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        loaded = self._loaded()
        enc = self._encode(messages).to(loaded.device)
        tok = loaded.tokenizer
        streamer = TextIteratorStreamer(tok, skip_prompt=True, skip_special_tokens=True)
        cancel = threading.Event()
        failed: list[BaseException] = []

        class _Cancelled(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                n = input_ids.shape[0]
                return torch.full((n,), cancel.is_set(), dtype=torch.bool, device=input_ids.device)

        def work() -> None:
            try:
                loaded.run(
                    lambda: loaded.model.generate(
                        **enc,
                        max_new_tokens=self.max_new_tokens,
                        do_sample=False,
                        pad_token_id=tok.pad_token_id
                        if tok.pad_token_id is not None
                        else tok.eos_token_id,
                        streamer=streamer,
                        stopping_criteria=StoppingCriteriaList([_Cancelled()]),
                    )
                )
            except BaseException as e:  # reaches the consumer, below
                failed.append(e)
                cast(Any, streamer).end()  # transformers leaves it unannotated

        thread = threading.Thread(target=work, name="lingua-reader-stream", daemon=True)
        thread.start()
        cutter = StopCutter(stop)
        try:
            for piece in streamer:
                out = cutter.feed(piece)
                if out:
                    yield out
                if cutter.done:
                    break
            if failed:
                raise failed[0]
            if not cutter.done:
                rest = cutter.feed("", final=True)
                if rest:
                    yield rest
        finally:
            cancel.set()
            thread.join()


def _stop_on(strings: Sequence[str], tok: Any, prompt_length: int) -> Any:
    """A stopping criterion: the reply so far (new tokens only, stripped) holds a stop string.

    Each row's reply is decoded once per step, whatever the number of stop strings.
    """
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class _Stop(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            replies = (
                str(tok.decode(row[prompt_length:], skip_special_tokens=True)).strip()
                for row in input_ids
            )
            done = [any(s in reply for s in strings) for reply in replies]
            return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([_Stop()])


class StopCutter:
    """Turns a reply that arrives in pieces into the pieces safe to show.

    The reply is the whole text stripped of surrounding whitespace and cut before the first
    ``stop`` string. Each :meth:`feed` returns the new text that is certain to be part of it:
    trailing whitespace and any tail that could begin a stop string are held back until later
    text decides them.

    Args:
        stop: Strings at which the reply is cut (empty strings are ignored).
    """

    def __init__(self, stop: Sequence[str] | None = None) -> None:
        self.stop = [s for s in stop or () if s]
        self.full = ""
        self.sent = 0
        self.done = False

    def feed(self, piece: str, *, final: bool = False) -> str:
        """Add ``piece``; the text that can now be shown (``final``: everything left)."""
        if self.done:
            return ""
        self.full += piece
        text = self.full.strip()
        cut = min((i for i in (text.find(s) for s in self.stop) if i >= 0), default=len(text))
        end = cut
        if not final:
            for j in range(max(0, len(text) - max(map(len, self.stop), default=0) + 1), cut):
                if any(len(s) > len(text) - j and s.startswith(text[j:]) for s in self.stop):
                    end = j
                    break
        if final or (cut < len(text) and end == cut):
            self.done = True
        out = text[self.sent : end]
        self.sent = max(self.sent, end)
        return out
