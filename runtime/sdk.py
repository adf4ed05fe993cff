"""The one surface generated clients import: everything else in the runtime may move.

Generated modules (``client.py``, ``triggers.py``) import from here only, so a user's committed
clients keep working while the runtime's private layout changes; ``tests/test_sdk_surface.py``
pins this list, and a name leaves it only with a generator change that stops using it.
"""

from __future__ import annotations

from patchbay.runtime.http._client_base import (
    NOT_GIVEN,
    AsyncClientBase,
    AsyncClientOptions,
    AsyncTypedPager,
    ClientBase,
    ClientOptions,
    Credentials,
    Endpoint,
    NotGiven,
    OAuth2Credentials,
    RawResponse,
    RequestOptions,
    TypedPager,
    Variables,
    parse_as,
)
from patchbay.runtime.http._options import CallOptions
from patchbay.runtime.triggers._polling import PollBatch, apoll, poll
from patchbay.runtime.webhooks._routing import EventRouter, Handler

__all__ = [
    "NOT_GIVEN",
    "AsyncClientBase",
    "AsyncClientOptions",
    "AsyncTypedPager",
    "CallOptions",
    "ClientBase",
    "ClientOptions",
    "Credentials",
    "Endpoint",
    "EventRouter",
    "Handler",
    "NotGiven",
    "OAuth2Credentials",
    "PollBatch",
    "RawResponse",
    "RequestOptions",
    "TypedPager",
    "Variables",
    "apoll",
    "parse_as",
    "poll",
]
