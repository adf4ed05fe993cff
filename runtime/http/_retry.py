"""When to retry, and how long to wait: capped exponential backoff with full jitter.

A vendor-supplied wait (``Retry-After``, reset header) wins over backoff. A wait longer than
``max_wait`` is not slept: the error is raised at once with its ``retry_after``, so a caller
(or the trigger scheduler) can plan instead of blocking a worker for an hour.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from patchbay.runtime.errors import PatchbayError


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_wait: float = 60.0
    random: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in ``[0, min(max_delay, base * 2**(attempt-1))]``."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        return ceiling * self.random()

    def delay_for(self, error: PatchbayError, attempt: int, *, repeatable: bool) -> float | None:
        """Seconds to wait before the next attempt, or ``None`` to give up and raise ``error``.

        ``attempt`` counts the attempt that just failed (1 for the first).
        """
        if not error.retryable or not repeatable or attempt >= self.max_attempts:
            return None
        if error.retry_after is not None:
            if error.retry_after > self.max_wait:
                return None
            return error.retry_after
        return self.backoff(attempt)


NO_RETRIES = RetryPolicy(max_attempts=1)
