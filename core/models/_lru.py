"""A small thread-safe LRU mapping for rate-independent scores."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, MutableMapping
from typing import Any


class LRU(MutableMapping[Hashable, Any]):
    """A bounded mapping that forgets the least recently used entry first.

    Args:
        maxsize: Most entries kept (0 keeps none).
        max_weight: Most total weight kept (``None``: no bound but ``maxsize``); an entry
            heavier than this alone is not kept.
        weigh: The weight of an entry, ``weigh(key, value)`` (e.g. its bytes).
    """

    def __init__(
        self,
        maxsize: int = 4096,
        *,
        max_weight: int | None = None,
        weigh: Callable[[Hashable, Any], int] | None = None,
    ) -> None:
        self.maxsize = max(0, int(maxsize))
        self.max_weight = max_weight
        self._weigh = weigh if max_weight is not None else None
        self._weights: dict[Hashable, int] = {}
        self.weight = 0  #: Total weight of the entries kept.
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def __getitem__(self, key: Hashable) -> Any:
        with self._lock:
            value = self._data[key]
            self._data.move_to_end(key)
            return value

    def __setitem__(self, key: Hashable, value: Any) -> None:
        if self.maxsize == 0:
            return
        w = 0 if self._weigh is None else int(self._weigh(key, value))
        if self.max_weight is not None and w > self.max_weight:
            return
        with self._lock:
            self.weight += w - self._weights.pop(key, 0)
            if self._weigh is not None:
                self._weights[key] = w
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize or (
                self.max_weight is not None and self.weight > self.max_weight
            ):
                old, _ = self._data.popitem(last=False)
                self.weight -= self._weights.pop(old, 0)

    def __delitem__(self, key: Hashable) -> None:
        with self._lock:
            del self._data[key]
            self.weight -= self._weights.pop(key, 0)

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._data.clear()
            self._weights.clear()
            self.weight = 0

    def __iter__(self) -> Iterator[Hashable]:
        with self._lock:
            return iter(list(self._data))

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: Hashable, default: Any = None) -> Any:
        """The value for ``key`` (marking it recently used), else ``default``."""
        with self._lock:
            if key not in self._data:
                return default
            self._data.move_to_end(key)
            return self._data[key]
