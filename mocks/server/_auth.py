"""Checking credentials the way the spec's auth variants send them."""

from __future__ import annotations

from typing import Any

from patchbay.mocks.server._helpers import _after_prefix, _basic_pair, _fits
from patchbay.mocks.server._state import _MockState
from patchbay.runtime.spec import (
    ApiKeyAuth,
    BasicAuth,
    BearerAuth,
    OAuth2Auth,
)


class _Auth(_MockState):
    def _authorized(self, headers: dict[str, str], query: list[tuple[str, str]]) -> bool:
        creds = self.credentials
        values = {**self.options.variables, **creds}
        lowered = {k.lower(): v for k, v in headers.items()}
        params = dict(query)
        for variant in self.spec.auth:
            if any(name not in creds for name in variant.fields):
                continue
            fields = variant.fields
            prefixes = [*(variant.mock.prefixes if variant.mock else [])]
            try:
                if isinstance(variant, BearerAuth):
                    token = _after_prefix(
                        lowered.get(variant.header.lower(), ""), [variant.prefix, *prefixes]
                    )
                    if token is not None and self._fits(variant.token, token, values, fields):
                        return True
                elif isinstance(variant, ApiKeyAuth):
                    source = lowered if variant.in_ == "header" else params
                    key = str.lower if variant.in_ == "header" else str
                    if all(
                        (sent := _after_prefix(source.get(key(p.name), ""), [p.prefix])) is not None
                        and self._fits(p.value, sent, values, fields)
                        for p in variant.params
                    ):
                        return True
                elif isinstance(variant, BasicAuth):
                    pair = _basic_pair(lowered.get("authorization", ""))
                    if (
                        pair is not None
                        and self._fits(variant.username, pair[0], values, fields)
                        and self._fits(variant.password, pair[1], values, fields)
                    ):
                        return True
                elif isinstance(variant, OAuth2Auth):
                    token = _after_prefix(
                        lowered.get(variant.header.lower(), ""), [variant.prefix, *prefixes]
                    )
                    if token is not None and token in self.options.access_tokens:
                        return True
            except KeyError:
                continue
        return False

    def _fits(
        self, template: str, sent: str, values: dict[str, str], fields: dict[str, Any]
    ) -> bool:
        return _fits(template, sent, values, fields if self.options.shaped_credentials else {})
