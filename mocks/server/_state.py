"""The mock's state (stores, fixtures, checks) and how it shapes replies."""

from __future__ import annotations

import copy
import json
import re
from typing import Any
from urllib.parse import quote

import httpx

from patchbay.mocks.golden import Fixture, FixtureResponse, fixtures_for
from patchbay.mocks.routing import Router
from patchbay.mocks.server._helpers import _fill, _render_value, _rule_status
from patchbay.mocks.server._options import (
    _SYNTH_ORIGIN,
    MockOptions,
    RecordedRequest,
    Reply,
    default_credentials,
)
from patchbay.mocks.vendor_errors import error_response, set_path
from patchbay.runtime.http import MISSING, InputCheck
from patchbay.runtime.spec import (
    Action,
    ConnectorSpec,
)

_PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
_HOST_PART = "[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*"  # what a variable in a vendor's host stands for


class _MockState:
    """State and reply shaping shared by the auth, resource and paging parts."""

    def __init__(self, spec: ConnectorSpec, options: MockOptions | None = None) -> None:
        self.spec = spec
        self.options = options or MockOptions()
        self.credentials = self.options.credentials or default_credentials(spec)
        self.requests: list[RecordedRequest] = []
        self.fixture_hits = 0  # replies taken from golden fixtures (the contract suite checks)
        self.store: dict[str, dict[str, dict[str, Any]]] = {}
        self.deleted: dict[str, set[str]] = {}
        # (resource store, item id) -> the partitions it was created in (spec resource effects)
        self.partitions: dict[tuple[str, str], dict[str, str]] = {}
        self._synth_cache: dict[tuple[int, str], str] = {}
        self._replies: dict[str, tuple[bytes, Reply]] = {}  # idempotency key -> first reply
        self._issued: dict[str, int] = {}  # ids handed out per store: never reused
        self._origin = ""  # scheme://host:port of the request being answered
        self._known_ids: dict[tuple[str, str], frozenset[str]] = {}
        self._item_ids: dict[tuple[str, str, int], Any] = {}
        self.router = Router(
            spec, variables=self.options.variables, mount=self.options.mount, probe=True
        )
        self._checks = {a.name: InputCheck(spec.name, a, spec.defs) for a in spec.actions}
        # Where a fixture's URLs point: the vendor's origins, or the synthesized one a recording
        # against a mock keeps. Served, they must point here, or a live client following a
        # next-page URL would leave the mock (for the real vendor, or a name that never resolves).
        elsewhere = [re.escape(_SYNTH_ORIGIN.decode())]
        elsewhere += [
            "".join(_HOST_PART if i % 2 else re.escape(part) for i, part in enumerate(parts))
            for parts in (_PLACEHOLDER.split(o) for o in self.router.vendor_origins())
        ]
        self._elsewhere = re.compile(("(?:" + "|".join(elsewhere) + r")(?=[/?#\"'\s]|$)").encode())
        self._fixtures: dict[str, list[Fixture]] = dict(self.options.fixtures or {})
        if self.options.fixtures is None and self.options.golden_root is not None:
            for action in spec.actions:
                found = fixtures_for(spec.name, action.name, self.options.golden_root)
                # A recorded error answered a request that failed for a reason the fixture does
                # not match on (another run's wrong key): served, it would refuse a live client.
                self._fixtures[action.name] = [
                    f for _, f in found if not (f.source == "recorded" and f.response.status >= 400)
                ]

    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> Reply:
        content = json.dumps(body).encode()
        if self._origin and _SYNTH_ORIGIN in content:
            # Synthesized URLs point at this mock, so a client following one stays here.
            content = content.replace(_SYNTH_ORIGIN, self._origin.encode())
        return Reply(status, {"Content-Type": "application/json", **(headers or {})}, content)

    def _recorded(self, res: FixtureResponse) -> Reply:
        """A fixture's answer as this mock gives it. Reached at its own address (``mock serve``
        on loopback), the vendor's URLs in the body and headers (next-page links, ``Link``,
        ``Location``) point at this mock instead; a binary body stays as kept."""
        headers, content = res.wire()
        if not self._origin or self._elsewhere.fullmatch(self._origin.encode()):
            # Addressed as the vendor (an in-process transport on the vendor's base URL): the
            # answer as recorded.
            return Reply(res.status, headers, content)
        here = (self._origin + self.options.mount.rstrip("/")).encode()
        if res.body_encoding != "base64":
            content = self._elsewhere.sub(lambda _m: here, content)
        moved = {
            name: self._elsewhere.sub(lambda _m: here, value.encode()).decode()
            for name, value in headers.items()
            if name.lower() != "content-length"  # the body's length may have changed
        }
        return Reply(res.status, moved, content)

    def _error(
        self,
        code: str,
        message: str,
        *,
        fallback: str | None = None,
        situation: str | None = None,
        item_id: str = "",
    ) -> Reply:
        declared = self._declared_error(code, situation, message, item_id)
        if declared is not None:
            return declared
        shaped = error_response(self.spec, code, message, retry_after=self.options.retry_after)
        if shaped is None and fallback is not None:
            shaped = error_response(
                self.spec, fallback, message, retry_after=self.options.retry_after
            )
        if shaped is None:
            return self._json(400, {"message": message, "code": code})
        status, headers, body = shaped
        return self._json(status, body, headers)

    def _declared_error(
        self, code: str, situation: str | None, message: str, item_id: str
    ) -> Reply | None:
        """The vendor's own body for this situation, when an error rule declares one."""
        rules = [r for r in self.spec.errors.rules if r.mock is not None and r.code == code]
        chosen = next(
            (r for r in rules if r.mock and situation in r.mock.situations),
            next((r for r in rules if r.mock and not r.mock.situations), None),
        )
        if chosen is None or chosen.mock is None:
            return None
        declared = chosen.mock
        status = declared.status or _rule_status(chosen, code)
        body = _fill(copy.deepcopy(declared.body), {"message": message, "id": item_id})
        return self._json(status, body)

    def _vendor_path(self, url: httpx.URL) -> str:
        """The request path as the vendor sees it (the mount under ``mock serve`` removed)."""
        path = url.path
        mount = self.options.mount.rstrip("/")
        return path[len(mount) :] if mount and path.startswith(mount + "/") else path

    def _context(
        self, url: httpx.URL, data: dict[str, Any], extra: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """What a ``mock.fields`` template can name: input, path parameters, where we are."""
        base = self._origin + self.options.mount.rstrip("/") + self.router.base_path
        return {
            **self.options.variables,
            **{k: v for k, v in data.items() if isinstance(v, str | int | float | bool)},
            "_origin": self._origin + self.options.mount.rstrip("/"),
            "_base": base,
            "_path": self._vendor_path(url),
            **(extra or {}),
        }

    def _apply_fields(self, action: Action, target: Any, context: dict[str, Any]) -> None:
        """Fill the fields the spec derives from the request (``full_name`` from owner/repo)."""
        if not isinstance(target, dict) or action.mock is None:
            return
        # In a URL every value the request gave is one percent-encoded segment, as the
        # vendor's would be; where we are (_origin, _base, _path) is a URL already.
        in_url = {
            k: quote(v, safe="") if isinstance(v, str) and not k.startswith("_") else v
            for k, v in context.items()
        }
        for path, template in action.mock.fields.items():
            url_like = template.startswith(("http://", "https://", "/", "{_"))
            value = _render_value(template, in_url if url_like else context)
            if value is not MISSING:
                set_path(target, path, value)
