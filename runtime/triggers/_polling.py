"""One poll of a polling trigger: call its action after the cursor, return new items and the
next cursor. The TriggerRunner (schedules, dedupe ledger, persisted cursors) builds on this.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from patchbay.runtime.errors import ConfigError, PatchbayError
from patchbay.runtime.http._error_mapping import condition_holds
from patchbay.runtime.http._executors import AsyncGenericExecutor, GenericExecutor
from patchbay.runtime.http._options import Page
from patchbay.runtime.http._pagers import AsyncPager
from patchbay.runtime.http._paths import get_path, parse_path
from patchbay.runtime.http._templating import fill
from patchbay.runtime.spec._model import ConnectorSpec, PollingCursor, PollingTrigger


@dataclass(frozen=True)
class PollBatch[T]:
    """New items (oldest first when the cursor orders them) and the cursor to use next time."""

    items: list[T]
    cursor: Any


def trigger_of(spec: ConnectorSpec, name: str) -> PollingTrigger:
    for trigger in spec.triggers.polling:
        if trigger.name == name:
            return trigger
    known = ", ".join(t.name for t in spec.triggers.polling) or "none"
    raise ConfigError(f"unknown polling trigger {name!r} (have: {known})", connector=spec.name)


def poll_input(
    trigger: PollingTrigger,
    cursor: Any,
    params: Mapping[str, Any] | None = None,
    *,
    now: float | None = None,
) -> dict[str, Any]:
    """The action input: the trigger's fixed input (its {now} filled), the subscription's
    ``params`` (a Slack channel, a GitHub repo), then, once there is a cursor, ``cursor.input``
    (its {cursor} filled; null removes a key) and the cursor at ``cursor.param``."""
    spec_cursor = trigger.cursor
    started = time.time() if now is None else now

    def lookup(name: str) -> Any:
        if name == "now":
            return write_cursor(started - trigger.lookback_seconds, spec_cursor, epoch=True)
        if name == "cursor" and cursor is not None:
            return write_cursor(cursor, spec_cursor)
        raise ConfigError(f"trigger {trigger.name!r}: nothing fills {{{name}}}")

    data: dict[str, Any] = fill(dict(trigger.input), lookup)
    data.update({k: (dict(v) if isinstance(v, dict) else v) for k, v in (params or {}).items()})
    if cursor is None:
        return data
    for key, value in fill(dict(spec_cursor.input), lookup).items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    param = spec_cursor.param
    if param is None:
        return data
    keys = parse_path(param)
    node = data
    for key in keys[:-1]:
        node = node.setdefault(str(key), {})
    node[str(keys[-1])] = write_cursor(cursor, spec_cursor)
    return data


def resumes_past_cap(trigger: PollingTrigger, token: Any) -> bool:
    """Whether a poll cut short by an item cap loses nothing because the next poll starts where
    this one stopped: a sync token came back, or the cursor narrows a list read oldest first."""
    cursor = trigger.cursor
    if cursor.kind == "sync_token":
        return token is not None
    return trigger.order == "asc" and (cursor.param is not None or bool(cursor.input))


def reached_cursor(trigger: PollingTrigger, sent: Any) -> Callable[[Page], bool] | None:
    """For a list read newest first, whether a page reached past the cursor that was sent (the
    lookback already applied): everything on later pages is older, so the poll can stop there
    instead of reading up to its item cap. Strictly older, so records that share the cursor's
    value on the next page are still read. None when the order gives no such guarantee."""
    cursor = trigger.cursor
    path = cursor.field
    if trigger.order != "desc" or sent is None or cursor.kind == "sync_token" or path is None:
        return None
    try:
        floor = sortable(sent, cursor)
    except ValueError:
        return None

    def older(item: Any) -> bool:
        value = get_path(item, path, None)
        try:
            return value is not None and bool(sortable(value, cursor) < floor)
        except (TypeError, ValueError):  # an unreadable value says nothing about the order
            return False

    return lambda page: any(older(item) for item in page.items)


def wanted(trigger: PollingTrigger, item: Any) -> bool:
    """Whether an item meets the trigger's ``where`` conditions (it may become an event)."""
    return all(condition_holds(c, get_path(item, c.path)) for c in trigger.where)


def polled_action(trigger: PollingTrigger, cursor: Any) -> str:
    """The action to call: ``cursor.action`` once there is a cursor, else the trigger's."""
    if cursor is not None and trigger.cursor.action is not None:
        return trigger.cursor.action
    return trigger.action


def is_stale(error: PatchbayError, cursor: PollingCursor) -> bool:
    """Whether the vendor declared a sync token stale (Google's 410, Dropbox's 409 reset/...)."""
    if cursor.kind != "sync_token":
        return False
    if error.status in cursor.stale_status:
        return True
    code = error.vendor_code or ""
    return any(code.startswith(prefix) for prefix in cursor.stale_codes)


def instant(value: Any, cursor: PollingCursor) -> datetime:
    """A timestamp cursor value as an aware UTC datetime (ValueError when it is not one)."""
    if cursor.format == "iso8601" and isinstance(value, str):
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    if cursor.format == "rfc2822" and isinstance(value, str):
        try:
            return parsedate_to_datetime(value).astimezone(UTC)
        except (TypeError, IndexError) as exc:
            raise ValueError(f"not an RFC 2822 date: {value!r}") from exc
    if cursor.format in ("epoch_seconds", "epoch_milliseconds"):
        try:
            number = Decimal(str(value))
        except InvalidOperation as exc:
            raise ValueError(f"not an epoch time: {value!r}") from exc
        if cursor.format == "epoch_milliseconds":
            number /= 1000
        return datetime.fromtimestamp(float(number), UTC)
    raise ValueError(f"a {cursor.format} cursor is not a timestamp")


def _stored(moment: datetime, cursor: PollingCursor) -> Any:
    """``moment`` in the format items carry (what the cursor is stored as)."""
    if cursor.format == "rfc2822":
        return format_datetime(moment)
    if cursor.format == "epoch_seconds":
        return int(moment.timestamp())
    if cursor.format == "epoch_milliseconds":
        return int(moment.timestamp() * 1000)
    return moment.isoformat().replace("+00:00", "Z")


def cursor_at(epoch: float, cursor: PollingCursor) -> Any:
    """A Unix time as a timestamp cursor in the format items carry (a trigger's start "now")."""
    return _stored(datetime.fromtimestamp(epoch, UTC), cursor)


def shift(value: Any, cursor: PollingCursor, seconds: float) -> Any:
    """A timestamp cursor moved back by ``seconds`` (the lookback window), in its own format."""
    if cursor.format in ("epoch_seconds", "epoch_milliseconds"):
        back = Decimal(str(seconds)) * (1000 if cursor.format == "epoch_milliseconds" else 1)
        moved = Decimal(str(value)) - back
        return int(moved) if moved == moved.to_integral_value() else str(moved)
    return _stored(instant(value, cursor) - timedelta(seconds=seconds), cursor)


def write_cursor(value: Any, cursor: PollingCursor, *, epoch: bool = False) -> Any:
    """The cursor (or, with ``epoch``, a Unix time) as the vendor wants it in a request.

    Conversions give text (HubSpot compares epoch milliseconds given as a string) and round
    down to the unit written, so the vendor returns a few records again at worst; the seen-ID
    ledger drops them."""
    if epoch:
        moment = datetime.fromtimestamp(float(value), UTC)
        if cursor.write_as == "stored":
            return _stored(moment, cursor) if cursor.format != "opaque" else int(value)
    elif cursor.write_as == "stored":
        return value
    else:
        moment = instant(value, cursor)
    if cursor.write_as == "date":
        return moment.strftime("%Y-%m-%d")
    if cursor.write_as == "epoch_seconds":
        return str(int(moment.timestamp() // 1))
    if cursor.write_as == "epoch_milliseconds":
        return str(int(moment.timestamp() * 1000 // 1))
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def sortable(value: Any, cursor: PollingCursor) -> Any:
    """A value that orders cursors correctly (dates as datetimes, epochs as decimals)."""
    if cursor.format in ("iso8601", "rfc2822") and isinstance(value, str):
        return instant(value, cursor)
    if cursor.format in ("epoch_seconds", "epoch_milliseconds"):
        try:
            return Decimal(str(value))
        except InvalidOperation:
            return value
    return value


def collect(trigger: PollingTrigger, pages: list[Page], cursor: Any) -> PollBatch[Any]:
    """Keep items past the cursor, order them oldest first, and compute the next cursor."""
    spec_cursor = trigger.cursor
    items = [item for page in pages for item in page.items]
    if spec_cursor.kind == "sync_token":
        token = cursor
        for page in pages:
            found = get_path(page.body, spec_cursor.token_path or "", None)
            if found is not None:
                token = found
        return PollBatch([i for i in items if wanted(trigger, i)], token)
    path = spec_cursor.field or ""
    keyed = [(sortable(get_path(i, path, None), spec_cursor), i) for i in items]
    keyed = [(k, i) for k, i in keyed if k is not None]
    if cursor is not None:
        floor = sortable(cursor, spec_cursor)
        keyed = [(k, i) for k, i in keyed if k > floor]
    keyed.sort(key=lambda pair: pair[0])
    fresh = [i for _, i in keyed]
    next_cursor = get_path(fresh[-1], path, cursor) if fresh else cursor
    return PollBatch([i for i in fresh if wanted(trigger, i)], next_cursor)


class _PageTake:
    """Pages of one poll as they arrive: ``take`` says when to stop (the page reached the
    cursor), and with ``keep`` only the last pages holding about that many items are held (a
    full sync reads everything for its token and needs only the tail). Sync and async polls
    feed it alike."""

    def __init__(self, stop: Callable[[Page], bool] | None, keep: int | None = None) -> None:
        self.pages: list[Page] = []
        self._stop = stop
        self._keep = keep
        self._held = 0

    def take(self, page: Page) -> bool:
        self.pages.append(page)
        self._held += len(page.items)
        keep, pages = self._keep, self.pages
        while keep is not None and len(pages) > 1 and self._held - len(pages[0].items) >= keep:
            self._held -= len(pages.pop(0).items)
        return self._stop is not None and self._stop(page)


def poll(
    executor: GenericExecutor,
    trigger: str,
    cursor: Any = None,
    *,
    params: Mapping[str, Any] | None = None,
    max_items: int | None = None,
) -> PollBatch[Any]:
    spec_trigger = trigger_of(executor.spec, trigger)
    data = poll_input(spec_trigger, cursor, params)
    pager = executor.paginate(polled_action(spec_trigger, cursor), data, max_items=max_items)
    taken = _PageTake(reached_cursor(spec_trigger, cursor))
    with contextlib.closing(pager.pages()) as stream:
        for page in stream:
            if taken.take(page):
                break
    return collect(spec_trigger, taken.pages, cursor)


async def apoll(
    executor: AsyncGenericExecutor,
    trigger: str,
    cursor: Any = None,
    *,
    params: Mapping[str, Any] | None = None,
    max_items: int | None = None,
) -> PollBatch[Any]:
    spec_trigger = trigger_of(executor.spec, trigger)
    data = poll_input(spec_trigger, cursor, params)
    pager = executor.paginate(polled_action(spec_trigger, cursor), data, max_items=max_items)
    return collect(
        spec_trigger, await read_pages(pager, reached_cursor(spec_trigger, cursor)), cursor
    )


async def read_pages(
    pager: AsyncPager, stop: Callable[[Page], bool] | None, *, keep: int | None = None
) -> list[Page]:
    """The pages of a poll, up to the first one ``stop`` accepts (the stream is closed there,
    so no further request is made), holding the last ``keep`` items' pages at most."""
    taken = _PageTake(stop, keep)
    async with contextlib.aclosing(pager.pages()) as stream:
        async for page in stream:
            if taken.take(page):
                break
    return taken.pages
