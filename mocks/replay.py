"""Replaying recorded sessions offline: an ``httpx`` transport over ``recorded-*.json`` fixtures.

A request is redacted with the same rules the recorder used (so a real email in a test still
finds the fixture recorded with the placeholder) and matched like the mock server matches
golden fixtures. On a miss, mode ``none`` raises :class:`ReplayMiss` naming the closest recorded
request; ``new``/``all`` (and ``once`` with nothing recorded yet) forward it to a real transport
and record the answer. In CI (``$CI`` set) the mode is always ``none``.

For pytest, without a conftest: ``from patchbay.mocks.replay import patchbay_replay`` in a test
module makes the ``patchbay_replay`` fixture available; configure it with
``@pytest.mark.parametrize("patchbay_replay", [{"connector": "stripe"}], indirect=True)`` or a
``@pytest.mark.replay("stripe", root=..., mode=...)`` marker (register ``replay`` in pytest's
``markers`` when ``--strict-markers`` is on).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

import httpx

from patchbay.mocks.golden import GOLDEN_DIR, Fixture, decode_body, load_fixture, matches
from patchbay.mocks.recorder import (
    MODES,
    Exchange,
    FixtureRedactor,
    Mode,
    Recorder,
    RedactionRules,
    closest,
    rules_for,
    scan_fixtures,
)
from patchbay.runtime.errors import ConfigError
from patchbay.runtime.spec import ConnectorSpec, SpecRegistry

MODE_ENV = "PATCHBAY_RECORD_MODE"
_HOP_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding", "connection"})


class ReplayMiss(ConfigError):
    """A request no recording answers (deliberately not an ``httpx`` error, so the executor
    neither retries it nor maps it to a connection failure: the test fails with this text; a
    ``PatchbayError``, so the executor lets it through as it is)."""


def effective_mode(mode: str | None = None) -> Mode:
    """``none`` in CI; else ``mode``, else ``$PATCHBAY_RECORD_MODE``, else ``none``."""
    if os.environ.get("CI"):
        return "none"
    chosen = mode or os.environ.get(MODE_ENV) or "none"
    if chosen not in MODES:
        raise ConfigError(f"unknown record mode {chosen!r} (have: {', '.join(MODES)})")
    return chosen


def _signature(method: str, path: str, query: dict[str, list[str]], body: Any) -> str:
    q = "&".join(f"{k}={v}" for k, vs in sorted(query.items()) for v in vs)
    b = json.dumps(body, sort_keys=True) if body is not None else ""
    return f"{method} {path}{'?' + q if q else ''} {b}".strip()


class RecordedSession:
    """Serves one connector's recorded fixtures; records misses when the mode allows."""

    def __init__(
        self,
        spec: ConnectorSpec,
        *,
        root: Path = GOLDEN_DIR,
        mode: str | None = None,
        real: httpx.BaseTransport | None = None,
        rules: RedactionRules | None = None,
        stand_ins: Iterable[str] = (),
        sources: tuple[str, ...] = ("recorded",),
    ) -> None:
        self.spec = spec
        self.root = root
        self.mode = effective_mode(mode)
        self.rules = rules if rules is not None else rules_for(spec)
        found, problems = scan_fixtures(spec.name, root)
        if problems:
            raise ConfigError("cannot replay; broken fixture file(s):\n" + "\n".join(problems))
        self.fixtures: list[tuple[Path, Fixture]] = [
            (p, f) for pairs in found.values() for p, f in pairs if f.source in sources
        ]
        self.redactor = FixtureRedactor(spec, self.rules)
        self.used: list[Path] = []
        self.misses: list[str] = []
        self._lock = threading.Lock()
        records = self.mode in ("new", "all") or (self.mode == "once" and not self.fixtures)
        self.recorder: Recorder | None = None
        self.real = real
        if records:
            if real is None:
                raise ConfigError(f"record mode {self.mode!r} needs a real transport to record")
            self.recorder = Recorder(
                spec,
                root=root,
                rules=self.rules,
                mode="all" if self.mode == "all" else "new",
                stand_ins=stand_ins,
            )

    # --------------------------------------------------------------------------- matching

    def _comparable(self, request: httpx.Request) -> tuple[str, str, dict[str, list[str]], Any]:
        red = self.redactor
        red.learn(_exchange(request, None))
        query: dict[str, list[str]] = {}
        for k, v in red.query(parse_qsl(request.url.query.decode(), keep_blank_values=True)):
            query.setdefault(k, []).append(v)
        body = red.data(decode_body(request.content, request.headers.get("content-type", "")))
        return request.method, red.path(unquote(request.url.path)), query, body

    def find(self, request: httpx.Request) -> tuple[Path, Fixture] | None:
        method, path, query, body = self._comparable(request)
        for found in self.fixtures:
            if matches(found[1], method, path, query, body):
                return found
        return None

    def miss_message(self, request: httpx.Request) -> str:
        method, path, query, body = self._comparable(request)
        sig = _signature(method, path, query, body)
        if not self.fixtures:
            return (
                f"no recorded request matches {sig}: {self.spec.name} has no recordings under "
                f"{self.root} (record mode {self.mode})"
            )
        labels = [
            (
                _signature(f.request.method, f.request.path, f.request.query, f.request.body),
                f"{_signature(f.request.method, f.request.path, f.request.query, f.request.body)}"
                f" ({p})",
            )
            for p, f in self.fixtures
        ]
        return (
            f"no recorded request matches {sig}; closest recorded request: "
            f"{closest(sig, labels)} (record mode {self.mode})"
        )

    # --------------------------------------------------------------------------- serving

    def handler(self, request: httpx.Request) -> httpx.Response:
        request.read()
        if self.mode != "all":
            hit = self.find(request)
            if hit is not None:
                path, fixture = hit
                with self._lock:
                    self.used.append(path)
                headers, content = fixture.response.wire()
                return httpx.Response(fixture.response.status, headers=headers, content=content)
        if self.recorder is None or self.real is None:
            message = self.miss_message(request)
            with self._lock:
                self.misses.append(message)
            raise ReplayMiss(message)
        response = self.real.handle_request(request)
        content = response.read()
        response.close()
        written = self.recorder.record(_exchange(request, response))
        if written is not None:
            with self._lock:
                self.fixtures.append((written, load_fixture(written)))
        kept = [(k, v) for k, v in response.headers.multi_items() if k not in _HOP_HEADERS]
        return httpx.Response(response.status_code, headers=kept, content=content)

    def transport(self) -> httpx.MockTransport:
        """An ``httpx`` transport for ``httpx.Client``, ``GenericExecutor(transport=...)`` and
        generated clients (``AsyncClient`` too while replaying; recording forwards sync only)."""
        return httpx.MockTransport(self.handler)


def _exchange(request: httpx.Request, response: httpx.Response | None) -> Exchange:
    return Exchange(
        request.method,
        str(request.url),
        list(request.headers.multi_items()),
        request.content,
        response.status_code if response is not None else 0,
        list(response.headers.multi_items()) if response is not None else [],
        response.content if response is not None else b"",
    )


def replay_transport(
    connector: str | ConnectorSpec,
    root: Path = GOLDEN_DIR,
    *,
    mode: str | None = None,
    real: httpx.BaseTransport | None = None,
    registry: SpecRegistry | None = None,
    **options: Any,
) -> httpx.MockTransport:
    """An ``httpx`` transport serving ``connector``'s recorded session under ``root``; a request
    it cannot answer raises :class:`ReplayMiss` naming the closest recorded request."""
    return session_for(
        connector, root, mode=mode, real=real, registry=registry, **options
    ).transport()


def session_for(
    connector: str | ConnectorSpec,
    root: Path = GOLDEN_DIR,
    *,
    mode: str | None = None,
    real: httpx.BaseTransport | None = None,
    registry: SpecRegistry | None = None,
    **options: Any,
) -> RecordedSession:
    spec = (
        connector
        if isinstance(connector, ConnectorSpec)
        else (registry or SpecRegistry()).get(connector)
    )
    return RecordedSession(spec, root=root, mode=mode, real=real, **options)


def _make_fixture() -> Any:
    import pytest

    @pytest.fixture
    def patchbay_replay(request: pytest.FixtureRequest) -> RecordedSession:
        """A :class:`RecordedSession` from the ``replay`` marker or an indirect parameter
        (``{"connector": ..., "root": ..., "mode": ..., "real": ...}``; ``"root_from"`` names
        a fixture that gives the root, such as ``tmp_path``)."""
        marker = request.node.get_closest_marker("replay")
        if marker is not None:
            args: dict[str, Any] = dict(marker.kwargs)
            if marker.args:
                args["connector"] = marker.args[0]
        elif hasattr(request, "param"):
            args = dict(request.param)
        else:
            raise ConfigError("patchbay_replay needs a replay marker or an indirect parameter")
        connector = args.pop("connector")
        root_from = args.pop("root_from", None)  # a fixture giving the root (tmp_path, ...)
        root = Path(
            request.getfixturevalue(root_from) if root_from else args.pop("root", GOLDEN_DIR)
        )
        return session_for(connector, root, **args)

    return patchbay_replay


def __getattr__(name: str) -> Any:
    # The pytest fixture is built on first import by name, so runtime users never import pytest.
    if name == "patchbay_replay":
        fixture = _make_fixture()
        globals()[name] = fixture
        return fixture
    raise AttributeError(name)
