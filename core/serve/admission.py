"""Admission control: a bounded number of requests in compression, a queue bounded by wait.

A request starts at once while fewer than ``max_concurrency`` run. Past that it queues, unless
the queue is full (``max_queue`` requests) or the *expected wait* before it could start is
longer than ``max_queue_wait_s``: then it is refused at once (:class:`Overloaded`, a 503 with
``Retry-After``), which a client can act on, instead of waiting until a timeout.

The expected wait is the work ahead of the request divided by ``max_concurrency``: the estimated
cost of each queued request plus what remains of each running one. A request's cost follows
from its characters and its method's measured cost, so a queue of 64 cheap
``random`` requests is admitted while a few long ``coarse_to_fine`` ones fill it. A request whose
deadline falls before its expected start and finish is refused at once too.

A method's cost has a fixed part and a part per character (measured by the server's warm-up on
a small and a larger call); measured requests refine the part per character.

Everything here runs on the event loop's thread: no locks.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field


class Overloaded(Exception):
    """The request cannot be admitted now; ``retry_after`` seconds is a fair wait."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(eq=False)
class Ticket:
    """One admitted (queued or running) request."""

    method: str
    cost: float
    started: float | None = None
    waiter: asyncio.Future[None] | None = field(default=None, repr=False)


class Admission:
    """The limits of one server (see the module docstring).

    Args:
        max_concurrency: Requests in compression at once.
        max_queue: Requests waiting at once.
        max_queue_wait_s: Longest expected wait a request is queued for.
        costs: Each method's cost as first measured: ``(fixed seconds, seconds per
            character)``, or seconds per character alone.
        smoothing: Weight of a new measurement in a method's average cost.

    Raises:
        ValueError: For a limit below 1 (concurrency) or below 0 (queue, wait).
    """

    def __init__(
        self,
        max_concurrency: int,
        max_queue: int,
        max_queue_wait_s: float,
        *,
        costs: Mapping[str, float | tuple[float, float]] | None = None,
        smoothing: float = 0.2,
    ) -> None:
        if not isinstance(max_concurrency, int) or max_concurrency < 1:
            msg = f"max_concurrency must be an int >= 1, got {max_concurrency!r}"
            raise ValueError(msg)
        if not isinstance(max_queue, int) or max_queue < 0:
            msg = f"max_queue must be an int >= 0, got {max_queue!r}"
            raise ValueError(msg)
        if not isinstance(max_queue_wait_s, (int, float)) or not max_queue_wait_s >= 0:
            msg = f"max_queue_wait_s must be a number >= 0, got {max_queue_wait_s!r}"
            raise ValueError(msg)
        self.max_concurrency = max_concurrency
        self.max_queue = max_queue
        self.max_queue_wait_s = float(max_queue_wait_s)
        self.costs: dict[str, tuple[float, float]] = {}
        for name, cost in (costs or {}).items():
            self.set_cost(name, cost)
        self.smoothing = smoothing
        self.running: set[Ticket] = set()
        self.queue: deque[Ticket] = deque()

    def set_cost(self, method: str, cost: float | tuple[float, float]) -> None:
        """Set a method's cost: ``(fixed seconds, seconds per character)`` or the latter."""
        fixed, per_char = (0.0, cost) if isinstance(cost, (int, float)) else cost
        self.costs[method] = (float(fixed), float(per_char))

    def cost(self, method: str, chars: int) -> float:
        """Estimated seconds of a request of ``chars`` characters with ``method``.

        A method not measured yet costs what the costliest measured one would.
        """
        if method in self.costs:
            fixed, per_char = self.costs[method]
            return fixed + per_char * max(1, chars)
        return max((self.cost(m, chars) for m in self.costs), default=0.0)

    def observe(self, method: str, chars: int, seconds: float) -> None:
        """Fold a finished request's measured seconds into its method's cost per character."""
        fixed, old = self.costs.get(method, (0.0, None))
        per_char = max(0.0, seconds - fixed) / max(1, chars)
        new = per_char if old is None else old + self.smoothing * (per_char - old)
        self.costs[method] = (fixed, new)

    def expected_wait(self, now: float | None = None) -> float:
        """Seconds before a request arriving now could start."""
        if len(self.running) < self.max_concurrency and not self.queue:
            return 0.0
        now = time.monotonic() if now is None else now
        ahead = sum(t.cost for t in self.queue)
        ahead += sum(max(0.0, t.cost - (now - (t.started or now))) for t in self.running)
        return ahead / self.max_concurrency

    async def acquire(self, method: str, chars: int, deadline: float | None = None) -> Ticket:
        """Admit a request: return its running ticket, at once or after its turn in the queue.

        Args:
            method: The request's method (its cost per character).
            chars: Its characters.
            deadline: ``time.monotonic()`` by which it must have finished, if any.

        Raises:
            Overloaded: When it cannot be queued (full, or the wait too long), or cannot
                finish before its deadline.
            asyncio.TimeoutError: When its deadline passes while it waits in the queue.
        """
        now = time.monotonic()
        ticket = Ticket(method, self.cost(method, chars))
        wait = self.expected_wait(now)
        if deadline is not None and now + wait + ticket.cost > deadline:
            msg = (
                f"cannot finish before the request's deadline (expected wait {wait:.2f} s, "
                f"cost {ticket.cost:.2f} s)"
            )
            raise Overloaded(msg, retry_after=wait)
        if len(self.running) < self.max_concurrency and not self.queue:
            ticket.started = now
            self.running.add(ticket)
            return ticket
        if len(self.queue) >= self.max_queue or wait > self.max_queue_wait_s:
            msg = (
                f"server busy: {len(self.running)} running, {len(self.queue)} queued, expected "
                f"wait {wait:.2f} s (limits: --max-concurrency {self.max_concurrency}, "
                f"--max-queue {self.max_queue}, --max-queue-wait {self.max_queue_wait_s:g})"
            )
            raise Overloaded(msg, retry_after=wait)
        ticket.waiter = asyncio.get_running_loop().create_future()
        self.queue.append(ticket)
        try:
            timeout = None if deadline is None else max(0.0, deadline - now)
            await asyncio.wait_for(asyncio.shield(ticket.waiter), timeout)
        except BaseException:
            if ticket in self.running:  # started in the meantime: hand the slot on
                self.release(ticket)
            elif ticket in self.queue:
                self.queue.remove(ticket)
                ticket.waiter.cancel()
            raise
        return ticket

    def release(self, ticket: Ticket, seconds: float | None = None, chars: int = 0) -> None:
        """A request left compression; start the next queued one.

        Args:
            ticket: Its ticket.
            seconds: Measured compute seconds to fold into its method's cost (``None``: none).
            chars: Its characters (with ``seconds``).
        """
        if seconds is not None:
            self.observe(ticket.method, chars, seconds)
        self.running.discard(ticket)
        while self.queue and len(self.running) < self.max_concurrency:
            nxt = self.queue.popleft()
            if nxt.waiter is None or nxt.waiter.done():
                continue
            nxt.started = time.monotonic()
            self.running.add(nxt)
            nxt.waiter.set_result(None)


def retry_after_header(seconds: float) -> str:
    """``Retry-After`` in whole seconds (at least 1), as HTTP has it."""
    return str(max(1, math.ceil(seconds)))
