"""Structured logs and Prometheus metrics for the executor, token refresh, the trigger runner
and the webhook receiver.

Log records carry their fields in ``record.patchbay`` (a dict) so any formatter can render them
as JSON; values are redacted by the caller before they get here. Metric labels are limited to
connector, action, trigger, method, status class, error code, refresh outcome and webhook
verdict: never a URL, header, input value, connection or subscription id, secret or signature.
Each comes from a fixed vocabulary or from the spec (an action name; calls outside any action,
``GenericExecutor.request``, count under the fixed action ``request``).
"""

from __future__ import annotations

import json
import logging
import weakref
from dataclasses import dataclass
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram

logger = logging.getLogger("patchbay")
# A library must not print through logging's last-resort handler: applications configure output.
logger.addHandler(logging.NullHandler())


#: HTTP methods as metric labels; anything else a caller passes counts as ``OTHER``.
_METRIC_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def metric_method(method: str) -> str:
    """The ``method`` label for an HTTP method: one of a fixed few, never caller text."""
    return method if method in _METRIC_METHODS else "OTHER"


def log_event(level: int, event: str, **fields: Any) -> None:
    """Emit one structured log line: message is the event name, fields go in ``extra``."""
    if logger.isEnabledFor(level):
        logger.log(level, event, extra={"patchbay": {"event": event, **fields}})


class JsonFormatter(logging.Formatter):
    """Renders ``record.patchbay`` fields as one JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {"level": record.levelname.lower(), "logger": record.name}
        payload.update(getattr(record, "patchbay", {"event": record.getMessage()}))
        return json.dumps(payload, default=str, sort_keys=True)


@dataclass(frozen=True)
class Metrics:
    requests: Counter
    errors: Counter
    retries: Counter
    latency: Histogram
    webhook_verdicts: Counter
    refreshes: Counter
    trigger_lag: Histogram
    trigger_polls: Counter
    trigger_events: Counter


# Keyed by the registry itself (not its id, which a new registry may reuse after a collection).
_METRICS: weakref.WeakKeyDictionary[CollectorRegistry, Metrics] = weakref.WeakKeyDictionary()


def metrics_for(registry: CollectorRegistry | None = None) -> Metrics:
    """Patchbay's metric families, registered once per registry."""
    registry = registry or REGISTRY
    key = registry
    found = _METRICS.get(key)
    if found is None:
        found = Metrics(
            requests=Counter(
                "patchbay_requests",
                "HTTP requests sent by the executor.",
                ["connector", "action", "method", "status_class"],
                registry=registry,
            ),
            errors=Counter(
                "patchbay_errors",
                "Normalized errors raised by the executor.",
                ["connector", "action", "code"],
                registry=registry,
            ),
            retries=Counter(
                "patchbay_retries",
                "Retries scheduled by the executor.",
                ["connector", "action", "code"],
                registry=registry,
            ),
            latency=Histogram(
                "patchbay_request_duration_seconds",
                "Latency of one HTTP exchange.",
                ["connector", "action"],
                registry=registry,
            ),
            webhook_verdicts=Counter(
                "patchbay_webhook_verdicts",
                "Webhook deliveries by outcome (accepted, duplicate, invalid_signature, ...).",
                ["connector", "verdict"],
                registry=registry,
            ),
            refreshes=Counter(
                "patchbay_token_refreshes",
                "OAuth token refreshes by outcome: ok, needs_reauth, or a normalized error code.",
                ["connector", "outcome"],
                registry=registry,
            ),
            trigger_lag=Histogram(
                "patchbay_trigger_schedule_lag_seconds",
                "How late a scheduled poll started after it was due.",
                ["connector", "trigger"],
                buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
                registry=registry,
            ),
            trigger_polls=Counter(
                "patchbay_trigger_polls",
                "Polls by outcome: ok, an error code, handler_failed or unexpected_error.",
                ["connector", "trigger", "outcome"],
                registry=registry,
            ),
            trigger_events=Counter(
                "patchbay_trigger_events",
                "Events handed to trigger handlers and acknowledged.",
                ["connector", "trigger"],
                registry=registry,
            ),
        )
        _METRICS[key] = found
    return found
