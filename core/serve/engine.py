"""What runs a served request: the compressors of the methods a server was started with.

An :class:`Engine` builds the compressor of every method it may run when it starts, loads their
models and runs one real call on each (:meth:`Engine.warmup`), so that no request can make the
server load, convert or download a model, and the first requests do not pay a cold model's first
pass. It runs in the server's worker process (:mod:`lingua_core.serve.executor`), or in the
server's own process under Ray Serve and in tests.
"""

from __future__ import annotations

import itertools
import logging
import re
import time
from dataclasses import asdict
from typing import Any

logger = logging.getLogger("lingua_core.serve")

#: The controls a server runs besides its default method unless told otherwise (``--methods``).
DEFAULT_SERVED = ("bm25", "embeddings_filter", "sentence_embeddings", "random", "naive", "none")

#: A small request each method runs once at start (warm model, warm code paths, a first cost).
_WARM_TEXTS = [
    "Beijing, formerly romanized as Peking, is the capital of the People's Republic of China. "
    "It is the world's most populous national capital city.",
    "Shanghai is a direct-administered municipality and the most populous urban area in China.",
]
_WARM_QUERY = "What was Beijing formerly called?"
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")


def _mark_sentences(text: str, mark: str) -> str:
    """``text`` with `` (mark.k)`` before its k-th sentence end."""
    marks = itertools.count()
    return _SENTENCE_END.sub(lambda m: f" ({mark}.{next(marks)}){m[0]}", text)


def _best_time(comp: Any, texts: list[str], repeats: int = 5, budget_s: float = 0.5) -> float:
    """The fastest of up to ``repeats`` timed calls of ``comp`` on ``texts``.

    Fewer calls once ``budget_s`` is spent; each sees sentences it has not seen (a run mark
    before every sentence end), so no cache answers.

    The fastest run is the call's cost without the noise of other processes on the CPU: one
    run timed while the machine was busy overstated a cheap method's cost 2x, and the queue then
    refused a burst it could serve at once.
    """
    best, spent = float("inf"), 0.0
    for r in range(repeats):
        unseen = [_mark_sentences(t, f"{r}.{i}") for i, t in enumerate(texts)]
        t0 = time.perf_counter()
        comp.compress(unseen, query=_WARM_QUERY, rate=0.5)
        took = time.perf_counter() - t0
        best, spent = min(best, took), spent + took
        if spent >= budget_s:
            break
    return best


def result_json(result: Any) -> dict[str, Any]:
    """One :class:`~lingua_core.result.CompressionResult` as the service returns it."""
    out = asdict(result)
    out.pop("original_text", None)
    out["spans"] = [list(s) for s in result.spans]
    out["elided"] = list(result.elided)
    return out


def served_methods(method: str, methods: Any = None) -> list[str]:
    """The canonical names of the methods a server runs, the default ``method`` first.

    ``methods`` (default: the controls of :data:`DEFAULT_SERVED`; a comma-separated string or
    a list) plus ``method``, which is always served.

    Raises:
        ValueError: For an unknown method name (the message lists the known ones).
    """
    from lingua_core.registry import resolve

    if methods is None:
        names = list(DEFAULT_SERVED)
    elif isinstance(methods, str):
        names = [m.strip() for m in methods.split(",") if m.strip()]
    else:
        names = list(methods)
    out = [resolve(method)[0]]
    for name in names:
        canon = resolve(name)[0]
        if canon not in out:
            out.append(canon)
    return out


class Engine:
    """The compressors of a server's methods, built and warmed once.

    Args:
        method: Default method of requests that name none.
        methods: Methods requests may name (see :func:`served_methods`).
    """

    def __init__(self, method: str, methods: Any = None) -> None:
        from lingua_core.registry import resolve

        self.method = resolve(method)[0]
        self.methods = served_methods(method, methods)
        self._compressors: dict[str, Any] = {}
        #: ``(fixed seconds, seconds per character)`` of each method, from its warm-up calls
        #: (the admission's first cost estimate, refined by measured requests).
        self.costs: dict[str, tuple[float, float]] = {}

    def warmup(self) -> dict[str, tuple[float, float]]:
        """Build every served method's compressor, load its models and run calls on each.

        Each method runs a small call (the cold pass), then warm calls on the small texts and
        on about 20 times more, of distinct passage-sized texts: the fastest of each gives its
        cost as a fixed part and a part per character. (One small call alone overstated a cheap
        method's cost per character 2-4x, and the queue then refused what it could serve at
        once.)

        Returns:
            ``(fixed seconds, seconds per character)`` of each method.
        """
        from lingua_core.registry import get_compressor

        small = _WARM_TEXTS
        # Passage-sized texts (about 700 characters, as retrieved passages are), all distinct.
        large = [
            " ".join(f"{t} (Variant {i}.{k}.)" for k in range(3) for t in small) for i in range(6)
        ]
        c_small, c_large = (sum(len(t) for t in x) for x in (small, large))
        for name in self.methods:
            comp = get_compressor(name)
            comp.warmup()
            comp.compress(small, query=_WARM_QUERY, rate=0.5)  # the cold first pass
            comp.compress(small, rate=0.5)  # a method's no-query fallback loads its model too
            t_small, t_large = _best_time(comp, small), _best_time(comp, large)
            per_char = max(0.0, (t_large - t_small) / (c_large - c_small))
            fixed = max(0.0, t_small - per_char * c_small)
            self.costs[name] = (fixed, per_char)
            self._compressors[name] = comp
            logger.info(
                "method %s ready: %.2f ms + %.3f ms per 1k characters",
                name,
                fixed * 1e3,
                per_char * 1e6,
            )
        return dict(self.costs)

    def canonical(self, method: str | None) -> str:
        """The canonical name of a request's method (``None``: the default).

        Raises:
            ValueError: For an unknown method, or one this server does not run (the message
                lists the served ones).
        """
        from lingua_core.registry import resolve

        if method is None:
            return self.method
        name = resolve(method)[0]
        if name not in self.methods:
            msg = (
                f"method {name!r} is not served here; served: {', '.join(self.methods)} "
                "(start the server with --methods to serve others)"
            )
            raise ValueError(msg)
        return name

    def compress(self, req: dict[str, Any]) -> dict[str, Any]:
        """Run one parsed request: ``{"method", "results", "usage"}`` (JSON-ready).

        Raises:
            ValueError: For an invalid request (the core's message), or a method not served.
            TypeError: For a value of the wrong type (the core's message).
        """
        name = self.canonical(req.get("method"))
        comp = self._compressors.get(name)
        if comp is None:  # not warmed (a server without warm-up, in tests)
            from lingua_core.registry import get_compressor

            comp = self._compressors.setdefault(name, get_compressor(name))
        results = comp.compress(
            req["texts"],
            query=req.get("query"),
            rate=req.get("rate"),
            target_tokens=req.get("target_tokens"),
            **req.get("options", {}),
        )
        usage = {
            "texts": len(results),
            "original_tokens": sum(r.original_tokens for r in results),
            "compressed_tokens": sum(r.compressed_tokens for r in results),
        }
        return {"method": comp.method, "results": [result_json(r) for r in results], "usage": usage}
