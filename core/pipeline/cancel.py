"""Cancelling a call that nobody waits for any more: a token the serving layer sets.

A server whose client disconnected, or whose request ran past its deadline, sets the request's
:class:`CancelToken`. The call sees it where it waits: each model's
:class:`~lingua_core.models.batcher.MicroBatcher` withdraws the caller's rows that no other
caller wants before they reach a forward (rows already in a forward finish; nothing runs after
them), and :meth:`Compressor.compress` refuses to start. The call then raises :class:`Cancelled`.

The token travels with the call as a context variable (:func:`cancel_scope`), so the core's
signatures do not change and a call made outside any scope is never cancelled.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Iterator


class Cancelled(Exception):
    """The call was cancelled (its client left or its deadline passed) before it finished."""


class CancelToken:
    """A flag one party sets and a running call checks.

    Args:
        reason: Default reason given by :meth:`cancel` without one.
    """

    def __init__(self, reason: str = "cancelled") -> None:
        self._event = threading.Event()
        self.reason = reason

    def cancel(self, reason: str | None = None) -> None:
        """Ask the call to stop (idempotent; the first reason stays)."""
        if not self._event.is_set() and reason is not None:
            self.reason = reason
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """Whether :meth:`cancel` was called."""
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        """Raise :class:`Cancelled` (with the reason) when cancelled.

        Raises:
            Cancelled: When the token is set.
        """
        if self._event.is_set():
            raise Cancelled(self.reason)


_CURRENT: contextvars.ContextVar[CancelToken | None] = contextvars.ContextVar(
    "lingua_cancel", default=None
)


@contextlib.contextmanager
def cancel_scope(token: CancelToken | None) -> Iterator[CancelToken | None]:
    """Make ``token`` the current call's cancel token in this context (thread or task)."""
    reset = _CURRENT.set(token)
    try:
        yield token
    finally:
        _CURRENT.reset(reset)


def current_token() -> CancelToken | None:
    """The cancel token of the running call (``None`` outside any :func:`cancel_scope`)."""
    return _CURRENT.get()


def check_cancelled() -> None:
    """Raise :class:`Cancelled` when the running call's token is set.

    Raises:
        Cancelled: When the current token is set.
    """
    token = _CURRENT.get()
    if token is not None:
        token.raise_if_cancelled()
