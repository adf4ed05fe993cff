"""Polling triggers: one poll (call the action after the cursor, keep what is new), the event
handlers receive, and the runner that schedules subscriptions with persisted cursors, dedupe,
backoff and leases shared by any number of workers.

Private modules: ``_events`` (the one event type, shared with webhooks), ``_polling``,
``_runner`` (subscriptions, their SQLite store and the scheduler).
"""

from __future__ import annotations

from patchbay.runtime.triggers._events import (
    TriggerEvent,
)
from patchbay.runtime.triggers._polling import (
    PollBatch,
    apoll,
    poll,
    trigger_of,
)
from patchbay.runtime.triggers._runner import (
    AsyncSubscriptionLeases,
    Subscription,
    SubscriptionStore,
    TriggerRunner,
)

__all__ = [
    "AsyncSubscriptionLeases",
    "PollBatch",
    "Subscription",
    "SubscriptionStore",
    "TriggerEvent",
    "TriggerRunner",
    "apoll",
    "poll",
    "trigger_of",
]
