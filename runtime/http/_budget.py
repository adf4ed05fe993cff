"""A client-side request budget (token bucket), for vendors that publish a steady rate."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RequestBudget:
    """``requests`` per ``per_seconds``; :meth:`reserve` returns how long to wait first.

    Reserving is thread-safe and never sleeps itself: the request flow turns the wait into a
    ``Sleep`` instruction, so the same budget serves sync and async executors.
    """

    def __init__(
        self, requests: int, per_seconds: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._capacity = float(requests)
        self._rate = requests / per_seconds
        self._tokens = float(requests)
        self._clock = clock
        self._last = clock()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        with self._lock:
            now = self._clock()
            self._tokens = min(self._capacity, self._tokens + (now - self._last) * self._rate)
            self._last = now
            self._tokens -= 1.0
            if self._tokens >= 0:
                return 0.0
            return -self._tokens / self._rate
