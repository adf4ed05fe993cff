"""Salesforce: records of any sObject with caller-chosen fields.

A spec declares every input key of an action, but a Salesforce record's fields are the org's
own (custom fields end in ``__c``), so ``create_record`` / ``update_record`` cannot be spec
actions. This client adds them on top of the spec's actions, through the executor's
``request`` escape hatch: the same auth, token refresh, retries and error mapping.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from patchbay.runtime.errors import ValidationFailed
from patchbay.runtime.http import CallOptions, GenericExecutor

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")


class SalesforceClient:
    def __init__(self, executor: GenericExecutor) -> None:
        self.executor = executor

    def _check(self, what: str, value: Any, pattern: re.Pattern[str]) -> str:
        if not isinstance(value, str) or not pattern.match(value):
            raise ValidationFailed(
                f"invalid input: {what} {value!r} is not a Salesforce {what}",
                connector="salesforce",
                pointer=f"/{what}",
                retryable=False,
            )
        return value

    def call(
        self,
        action: str,
        data: Mapping[str, Any] | None = None,
        options: CallOptions | None = None,
    ) -> Any:
        data = dict(data or {})
        if action == "create_record":
            sobject = self._check("sobject", data.get("sobject"), _NAME)
            fields = data.get("fields")
            if not isinstance(fields, dict) or not fields:
                raise ValidationFailed(
                    "invalid input: fields must be a non-empty object",
                    connector="salesforce",
                    pointer="/fields",
                    retryable=False,
                )
            return self.executor.request("POST", f"/sobjects/{sobject}/", json=fields)
        if action == "update_record":
            sobject = self._check("sobject", data.get("sobject"), _NAME)
            record_id = self._check("id", data.get("id"), _ID)
            fields = data.get("fields") or {}
            self.executor.request("PATCH", f"/sobjects/{sobject}/{record_id}", json=fields)
            return {"id": record_id}
        return self.executor.call(action, data, options or CallOptions())

    def close(self) -> None:
        self.executor.close()
