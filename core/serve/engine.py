"""What runs a served request: the compressors of the methods a server was started with.

An :class:`Engine` builds the compressor of every method it may run when it starts, loads their
models and runs one real call on each (:meth:`Engine.warmup`), so that no request can make the
server load, convert or download a model, and the first requests do not pay a cold model's first
pass. It runs in the server's worker process (:mod:`lingua_core.serve.executor`), or in the
server's own process under Ray Serve and in tests.
"""

from __future__ import annotations

import logging
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

        Each method runs a small call twice (the first is the cold pass) and a call about 20
        times larger, of distinct passage-sized texts; the two warm calls give its cost as a
        fixed part and a part per character. (One small call alone overstated a cheap method's
        cost per character 2-4x, and the queue then refused what it could serve at once.)

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
            t0 = time.perf_counter()
            comp.compress(small, query=_WARM_QUERY, rate=0.5)
            t1 = time.perf_counter()
            comp.compress(large, query=_WARM_QUERY, rate=0.5)
            t_small, t_large = t1 - t0, time.perf_counter() - t1
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
