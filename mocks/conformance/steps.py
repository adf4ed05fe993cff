"""One SDK scenario's outcome: the calls it tried, and for each whether it passed and why not."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

# A mock whose pager never ends (a canned page answering every cursor) must fail the step, not
# hang the run: the SDKs' own auto-pagers follow ``has_more`` forever.
MAX_PAGED_ITEMS = 500


def bounded[T](items: Iterable[T], limit: int = MAX_PAGED_ITEMS) -> list[T]:
    """The items an SDK pager yields, refusing to walk past ``limit`` of them."""
    out: list[T] = []
    for item in items:
        if len(out) >= limit:
            raise AssertionError(f"the pager did not end after {limit} items")
        out.append(item)
    return out


@dataclass(frozen=True)
class Step:
    name: str
    ok: bool
    reason: str = ""


@dataclass
class Steps:
    """Runs named checks in order, recording each; a failed check never stops the scenario,
    so the table shows every call the SDK makes (later ones may fail for the same reason)."""

    sdk: str
    done: list[Step] = field(default_factory=list)

    def check(self, name: str, call: Callable[[], Any], expect: Callable[[Any], str | None]) -> Any:
        """Run ``call``; ``expect`` returns None when the result is right, else what is wrong."""
        try:
            result = call()
        except Exception as exc:  # the SDK's own exceptions are what a scenario reports
            self.done.append(Step(name, False, f"{type(exc).__name__}: {_short(exc)}"))
            return None
        problem = expect(result)
        self.done.append(Step(name, problem is None, problem or ""))
        return result

    def raises(self, name: str, call: Callable[[], Any], wanted: type[BaseException]) -> None:
        """Run ``call`` and require the SDK's own typed exception ``wanted``."""
        try:
            call()
        except wanted:
            self.done.append(Step(name, True))
            return
        except Exception as exc:
            self.done.append(
                Step(
                    name, False, f"{type(exc).__name__} instead of {wanted.__name__}: {_short(exc)}"
                )
            )
            return
        self.done.append(Step(name, False, f"no {wanted.__name__} raised"))

    @property
    def passed(self) -> int:
        return sum(1 for s in self.done if s.ok)

    @property
    def failed(self) -> list[Step]:
        return [s for s in self.done if not s.ok]


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:160]


def equal(wanted: Any) -> Callable[[Any], str | None]:
    """An expectation: the result equals ``wanted``."""

    def check(got: Any) -> str | None:
        return None if got == wanted else f"got {got!r}, wanted {wanted!r}"

    return check
