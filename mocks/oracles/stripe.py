"""A stand-in for Stripe's v1 REST API, written from Stripe's documentation.

What it reproduces, because connectors trip over exactly these:
- auth by ``Authorization: Bearer sk_...`` or HTTP Basic with the key as user; a missing or
  unknown key is a 401 with ``type=invalid_request_error`` and the key masked in the message;
  a restricted key (``rk_...``) may only read, writes get a 403;
- form-encoded bodies and queries with nested brackets (``metadata[k]=v``, ``items[0][x]=y``,
  ``expand[]=...``, ``created[gt]=...``); unknown parameters are a 400 ``parameter_unknown``;
- lists ``{"object": "list", "data": [...], "has_more": ..., "url": ...}``, newest first, paged
  with ``limit`` (1..100, default 10) and ``starting_after`` / ``ending_before`` (object IDs);
- the error object ``{"error": {"type", "code", "message", "param", "doc_url"}}`` and a
  ``Request-Id`` header on every response;
- idempotency keys on POST: a replay returns the saved response, the same key with other
  parameters is a 400 ``idempotency_error``; validation failures are not saved;
- every create/update/delete records an Event (``customer.created``, ``charge.refunded``, ...).

Faults that need no state (rate limits, lock timeouts, 5xx) are built by :meth:`StripeStandIn.error`
and friends and queued with :meth:`StandIn.queue`.
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

import httpx

from patchbay.mocks.oracles.base import StandIn, json_response

DEMO_KEY = "sk_test_FAKE_patchbay_0000"
ACCOUNT_ID = "acct_FAKEpatchbay0001"
START_TIME = 1_700_000_000
DOCS = "https://stripe.com/docs/error-codes"

Json = dict[str, Any]
Handler = Callable[[httpx.Request, "_Ctx"], httpx.Response]

_KEY_SHAPE = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_BRACKET = re.compile(r"\[([^\[\]]*)\]")


class StripeError(Exception):
    """Raised inside handlers; becomes Stripe's error object."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.code = code
        self.param = param


def decode_brackets(pairs: Iterable[tuple[str, str]]) -> Json:
    """Stripe's bracket notation back into nested dicts and lists (``a[0][b]=1``)."""
    root: Json = {}
    for key, value in pairs:
        match = _KEY_SHAPE.match(key)
        if match is None:
            raise StripeError(400, f"Invalid parameter name: {key}", param=key)
        path = [match.group(1), *_BRACKET.findall(match.group(2))]
        node: Any = root
        for depth, segment in enumerate(path):
            if segment == "":
                segment = str(sum(1 for k in node if k.isdigit()))
            if depth == len(path) - 1:
                node[segment] = value
                break
            child = node.setdefault(segment, {})
            if not isinstance(child, dict):
                raise StripeError(400, f"Invalid hash: {key}", param=path[0])
            node = child
    result = _lists_from_digit_keys(root)
    assert isinstance(result, dict)
    return result


def _lists_from_digit_keys(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    converted = {k: _lists_from_digit_keys(v) for k, v in value.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


def _as_int(
    params: Json, name: str, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    raw = params[name]
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise StripeError(
            400, f"Invalid integer: {raw}", code="parameter_invalid_integer", param=name
        ) from None
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise StripeError(
            400,
            f"Invalid integer: {raw}; {name} must be {bound}",
            code="parameter_invalid_integer",
            param=name,
        )
    return value


def _as_bool(params: Json, name: str) -> bool:
    raw = params[name]
    if raw not in ("true", "false"):
        raise StripeError(400, f"Invalid boolean: {raw}", param=name)
    return bool(raw == "true")


def _as_list(params: Json, name: str) -> list[Any]:
    raw = params[name]
    if not isinstance(raw, list):
        raise StripeError(400, f"Invalid array: {name}", param=name)
    return raw


def _as_str(params: Json, name: str) -> str:
    raw = params[name]
    if not isinstance(raw, str):
        raise StripeError(400, f"Invalid string: {name}", param=name)
    return raw


def _missing(name: str) -> StripeError:
    return StripeError(
        400, f"Missing required param: {name}.", code="parameter_missing", param=name
    )


def _no_such(kind: str, object_id: str, *, status: int = 404, param: str = "id") -> StripeError:
    return StripeError(
        status, f"No such {kind}: '{object_id}'", code="resource_missing", param=param
    )


def _check_known(params: Json, allowed: Iterable[str]) -> None:
    known = set(allowed)
    for name in params:
        if name not in known:
            raise StripeError(
                400, f"Received unknown parameter: {name}", code="parameter_unknown", param=name
            )


class _Ctx:
    """What a handler needs from one request: decoded params, the key, the request id."""

    __slots__ = ("api_key", "idempotency_key", "params", "path_args", "request_id")

    def __init__(self, api_key: str, request_id: str, params: Json, idem: str | None) -> None:
        self.api_key = api_key
        self.request_id = request_id
        self.params = params
        self.idempotency_key = idem
        self.path_args: tuple[str, ...] = ()


class StripeStandIn(StandIn):
    """Behaves like ``https://api.stripe.com/v1`` for customers, charges, PaymentIntents,
    refunds, events, balance, account and webhook endpoints."""

    def __init__(
        self,
        items: int = 25,
        *,
        api_keys: Iterable[str] = (DEMO_KEY,),
        display_name: str = "Patchbay Test Shop",
    ) -> None:
        super().__init__()
        self.api_keys = set(api_keys)
        self.display_name = display_name
        self.customers: dict[str, Json] = {}
        self.deleted_customers: set[str] = set()
        self.charges: dict[str, Json] = {}
        self.payment_intents: dict[str, Json] = {}
        self.refunds: dict[str, Json] = {}
        self.events: dict[str, Json] = {}
        self.webhook_endpoints: dict[str, Json] = {}
        self.idempotency: dict[tuple[str, str], tuple[str, str, Json, int, Json]] = {}
        self._clock = START_TIME
        self._seq = itertools.count(1)
        self._request_seq = itertools.count(1)
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = [
            ("GET", re.compile(r"^/v1/account$"), self._get_account),
            ("GET", re.compile(r"^/v1/balance$"), self._get_balance),
            ("GET", re.compile(r"^/v1/customers$"), self._list_customers),
            ("POST", re.compile(r"^/v1/customers$"), self._create_customer),
            ("GET", re.compile(r"^/v1/customers/search$"), self._search_customers),
            ("GET", re.compile(r"^/v1/customers/([^/]+)$"), self._get_customer),
            ("POST", re.compile(r"^/v1/customers/([^/]+)$"), self._update_customer),
            ("DELETE", re.compile(r"^/v1/customers/([^/]+)$"), self._delete_customer),
            ("GET", re.compile(r"^/v1/charges$"), self._list_charges),
            ("GET", re.compile(r"^/v1/charges/([^/]+)$"), self._get_charge),
            ("POST", re.compile(r"^/v1/payment_intents$"), self._create_payment_intent),
            ("GET", re.compile(r"^/v1/payment_intents/([^/]+)$"), self._get_payment_intent),
            (
                "POST",
                re.compile(r"^/v1/payment_intents/([^/]+)/confirm$"),
                self._confirm_payment_intent,
            ),
            ("POST", re.compile(r"^/v1/refunds$"), self._create_refund),
            ("GET", re.compile(r"^/v1/events$"), self._list_events),
            ("POST", re.compile(r"^/v1/webhook_endpoints$"), self._create_webhook_endpoint),
            (
                "DELETE",
                re.compile(r"^/v1/webhook_endpoints/([^/]+)$"),
                self._delete_webhook_endpoint,
            ),
        ]
        self._seed(items)

    # ----------------------------------------------------------------------------- dataset

    def _tick(self) -> int:
        self._clock += 1
        return self._clock

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_FAKE{next(self._seq):010d}"

    def _seed(self, items: int) -> None:
        for i in range(items):
            customer = self._customer_object(
                {"name": f"Customer {i:02d}", "email": f"customer{i:02d}@example.test"}
            )
            self._record_event("customer.created", customer, None, None)
        customer_ids = list(self.customers)
        for i in range(items):
            charge = self._charge_object(
                amount=1000 + 100 * i,
                customer=customer_ids[i % len(customer_ids)] if customer_ids else None,
                description=f"Order {i:02d}",
            )
            self._record_event("charge.succeeded", charge, None, None)

    def _customer_object(self, fields: Json) -> Json:
        customer: Json = {
            "id": self._new_id("cus"),
            "object": "customer",
            "address": None,
            "balance": 0,
            "created": self._tick(),
            "currency": None,
            "default_source": None,
            "delinquent": False,
            "description": None,
            "discount": None,
            "email": None,
            "invoice_prefix": None,
            "invoice_settings": {
                "custom_fields": None,
                "default_payment_method": None,
                "footer": None,
            },
            "livemode": False,
            "metadata": {},
            "name": None,
            "next_invoice_sequence": 1,
            "phone": None,
            "preferred_locales": [],
            "shipping": None,
            "tax_exempt": "none",
            "test_clock": None,
        }
        customer.update(fields)
        if customer["invoice_prefix"] is None:
            customer["invoice_prefix"] = customer["id"][-8:].upper()
        self.customers[customer["id"]] = customer
        return customer

    def _charge_object(self, *, amount: int, customer: str | None, description: str) -> Json:
        charge: Json = {
            "id": self._new_id("ch"),
            "object": "charge",
            "amount": amount,
            "amount_captured": amount,
            "amount_refunded": 0,
            "application": None,
            "application_fee": None,
            "application_fee_amount": None,
            "balance_transaction": None,
            "billing_details": {"address": None, "email": None, "name": None, "phone": None},
            "calculated_statement_descriptor": "PATCHBAY",
            "captured": True,
            "created": self._tick(),
            "currency": "usd",
            "customer": customer,
            "description": description,
            "disputed": False,
            "failure_balance_transaction": None,
            "failure_code": None,
            "failure_message": None,
            "fraud_details": {},
            "invoice": None,
            "livemode": False,
            "metadata": {},
            "on_behalf_of": None,
            "outcome": {
                "network_status": "approved_by_network",
                "reason": None,
                "risk_level": "normal",
                "seller_message": "Payment complete.",
                "type": "authorized",
            },
            "paid": True,
            "payment_intent": None,
            "payment_method": None,
            "payment_method_details": None,
            "receipt_email": None,
            "receipt_number": None,
            "receipt_url": None,
            "refunded": False,
            "review": None,
            "shipping": None,
            "source_transfer": None,
            "statement_descriptor": None,
            "statement_descriptor_suffix": None,
            "status": "succeeded",
            "transfer_data": None,
            "transfer_group": None,
        }
        charge["balance_transaction"] = "txn_" + charge["id"][3:]
        self.charges[charge["id"]] = charge
        return charge

    def _record_event(
        self, type_: str, obj: Json, request_id: str | None, idem: str | None
    ) -> Json:
        event: Json = {
            "id": self._new_id("evt"),
            "object": "event",
            "api_version": "2025-04-30.basil",
            "created": self._tick(),
            "data": {"object": copy.deepcopy(obj)},
            "livemode": False,
            "pending_webhooks": 0,
            "request": {"id": request_id, "idempotency_key": idem},
            "type": type_,
        }
        self.events[event["id"]] = event
        return event

    # ------------------------------------------------------------------------ fault helpers

    def error(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """A response carrying Stripe's error object, for :meth:`queue`."""
        return self._error_response(
            StripeError(status, message, type_=type_, code=code, param=param),
            f"req_FAKE{next(self._request_seq):010d}",
            headers,
        )

    def rate_limit(self, count: int = 1) -> None:
        """Queue ``count`` 429 answers the way Stripe's rate limiter sends them."""
        for _ in range(count):
            self.queue(
                self.error(
                    429,
                    "Request rate limit exceeded. Learn more about rate limits here "
                    "https://stripe.com/docs/rate-limits.",
                    code="rate_limit",
                    headers={"Stripe-Rate-Limited-Reason": "global-rate"},
                )
            )

    def lock_timeout(self) -> None:
        """Queue a 429 ``lock_timeout``: another request holds the object; Stripe says retry."""
        self.queue(
            self.error(
                429,
                "This object cannot be accessed right now because another API request or "
                "Stripe process is currently accessing it. If you see this error intermittently, "
                "retry the request.",
                code="lock_timeout",
                headers={"Stripe-Should-Retry": "true"},
            )
        )

    def server_error(self, *, should_retry: str | None = None) -> None:
        """Queue a 500 ``api_error`` (optionally with ``Stripe-Should-Retry``)."""
        headers = {"Stripe-Should-Retry": should_retry} if should_retry is not None else None
        self.queue(
            self.error(
                500,
                "An unknown error occurred",
                type_="api_error",
                headers=headers,
            )
        )

    # ----------------------------------------------------------------------------- serving

    def _error_response(
        self, err: StripeError, request_id: str, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        body: Json = {"type": err.type, "message": err.message}
        if err.code is not None:
            body["code"] = err.code
            body["doc_url"] = f"{DOCS}#{err.code.replace('_', '-')}"
        if err.param is not None:
            body["param"] = err.param
        body["request_log_url"] = (
            f"https://dashboard.stripe.com/test/logs/{request_id}?t={self._clock}"
        )
        return json_response(
            err.status, {"error": body}, {"Request-Id": request_id, **(headers or {})}
        )

    def _api_key(self, request: httpx.Request) -> str:
        header = request.headers.get("Authorization")
        if not header:
            raise StripeError(
                401,
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                "YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, "
                "or we can help at https://support.stripe.com/.",
            )
        scheme, _, value = header.partition(" ")
        key: str = value.strip()
        if scheme.lower() == "basic":
            try:
                key = base64.b64decode(key).decode().partition(":")[0]
            except (ValueError, UnicodeDecodeError):
                key = ""
        elif scheme.lower() != "bearer":
            key = ""
        if key not in self.api_keys:
            raise StripeError(401, f"Invalid API Key provided: {_mask(key)}")
        return key

    def handle(self, request: httpx.Request) -> httpx.Response:
        request_id = f"req_FAKE{next(self._request_seq):010d}"
        try:
            api_key = self._api_key(request)
            handler, args = self._route(request)
            params = decode_brackets(parse_qsl(request.url.query.decode(), keep_blank_values=True))
            if request.method == "POST":
                ctype = request.headers.get("Content-Type", "")
                if request.content and "application/x-www-form-urlencoded" not in ctype:
                    raise StripeError(
                        400,
                        "Invalid request: unsupported Content-Type "
                        f"{ctype}. If error persists and you need assistance, please contact "
                        "support@stripe.com.",
                    )
                body = decode_brackets(parse_qsl(request.content.decode(), keep_blank_values=True))
                params = {**params, **body}
                if api_key.startswith("rk_"):
                    raise StripeError(
                        403,
                        f"The provided key '{_mask(api_key)}' does not have the required "
                        f"permissions for this endpoint on account '{ACCOUNT_ID}'.",
                    )
            ctx = _Ctx(api_key, request_id, params, request.headers.get("Idempotency-Key"))
            ctx.path_args = args
            if request.method == "POST" and ctx.idempotency_key:
                return self._idempotent(request, ctx, handler)
            return handler(request, ctx)
        except StripeError as err:
            return self._error_response(err, request_id)

    def _route(self, request: httpx.Request) -> tuple[Handler, tuple[str, ...]]:
        path = request.url.path
        for method, pattern, handler in self._routes:
            match = pattern.match(path)
            if match is not None and method == request.method:
                return handler, match.groups()
        raise StripeError(
            404,
            f"Unrecognized request URL ({request.method}: {path}). Please see "
            "https://stripe.com/docs or we can help at https://support.stripe.com/.",
        )

    def _idempotent(self, request: httpx.Request, ctx: _Ctx, handler: Handler) -> httpx.Response:
        """Replay a saved result, reject a reused key with other parameters, else run and save."""
        assert ctx.idempotency_key is not None
        slot = (ctx.api_key, ctx.idempotency_key)
        saved = self.idempotency.get(slot)
        if saved is not None:
            method, path, params, status, body = saved
            if (method, path, params) != (request.method, request.url.path, ctx.params):
                raise StripeError(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters "
                    "they were first used with. Try using a key other than "
                    f"'{ctx.idempotency_key}' if you meant to execute a different request.",
                    type_="idempotency_error",
                )
            return json_response(status, body, {"Request-Id": ctx.request_id})
        response = handler(request, ctx)
        if response.status_code < 300 or response.status_code == 402:
            self.idempotency[slot] = (
                request.method,
                request.url.path,
                ctx.params,
                response.status_code,
                _json(response),
            )
        return response

    def _ok(self, ctx: _Ctx, body: Json) -> httpx.Response:
        return json_response(200, body, {"Request-Id": ctx.request_id})

    # ------------------------------------------------------------------------------ lists

    def _page(self, ctx: _Ctx, kind: str, objects: list[Json], url: str) -> httpx.Response:
        """Newest first; ``starting_after`` / ``ending_before`` are object IDs."""
        params = ctx.params
        limit = _as_int(params, "limit", minimum=1, maximum=100) if "limit" in params else 10
        after = params.get("starting_after")
        before = params.get("ending_before")
        if after is not None and before is not None:
            raise StripeError(
                400,
                "You may only specify one of these parameters: ending_before, starting_after.",
                param="ending_before",
            )
        ordered = sorted(objects, key=lambda o: (o["created"], o["id"]), reverse=True)
        ids = [o["id"] for o in ordered]
        if after is not None:
            if after not in ids:
                raise _no_such(kind, str(after), status=400, param="starting_after")
            start = ids.index(after) + 1
            page = ordered[start : start + limit]
            has_more = start + limit < len(ordered)
        elif before is not None:
            if before not in ids:
                raise _no_such(kind, str(before), status=400, param="ending_before")
            end = ids.index(before)
            page = ordered[max(0, end - limit) : end]
            has_more = end - limit > 0
        else:
            page = ordered[:limit]
            has_more = limit < len(ordered)
        return self._ok(ctx, {"object": "list", "data": page, "has_more": has_more, "url": url})

    @staticmethod
    def _created_filter(params: Json, objects: list[Json]) -> list[Json]:
        if "created" not in params:
            return objects
        created = params["created"]
        if isinstance(created, str):
            exact = _as_int(params, "created")
            return [o for o in objects if o["created"] == exact]
        if not isinstance(created, dict) or not created:
            raise StripeError(400, "Invalid hash", param="created")
        tests = {
            "gt": lambda a, b: a > b,
            "gte": lambda a, b: a >= b,
            "lt": lambda a, b: a < b,
            "lte": lambda a, b: a <= b,
        }
        out = objects
        for op in created:
            if op not in tests:
                raise StripeError(
                    400,
                    f"Received unknown parameter: created[{op}]",
                    code="parameter_unknown",
                    param=f"created[{op}]",
                )
            bound = _as_int(created, op)
            out = [o for o in out if tests[op](o["created"], bound)]
        return out

    def _expand(self, ctx: _Ctx, obj: Json, allowed: dict[str, str], *, in_list: bool) -> Json:
        """Replace ID fields by the objects they name, as ``expand[]`` asks."""
        fields = _as_list(ctx.params, "expand") if "expand" in ctx.params else []
        if not fields:
            return obj
        out = copy.deepcopy(obj)
        for field in fields:
            name = field.removeprefix("data.") if in_list else field
            if (in_list and not field.startswith("data.")) or name not in allowed:
                raise StripeError(
                    400, f"This property cannot be expanded ({field}).", param="expand"
                )
            value = out.get(name)
            store = getattr(self, allowed[name])
            if isinstance(value, str) and value in store:
                out[name] = copy.deepcopy(store[value])
        return out

    # ---------------------------------------------------------------------------- handlers

    def _get_account(self, request: httpx.Request, ctx: _Ctx) -> httpx.Response:
        _check_known(ctx.params, ["expand"])
        return self._ok(
            ctx,
            {
                "id": ACCOUNT_ID,
                "object": "account",
                "business_profile": {"name": self.display_name, "url": None},
                "capabilities": {"card_payments": "active", "transfers": "active"},
                "charges_enabled": True,
                "country": "US",
                "created": 1700000000,
                "default_currency": "usd",
                "details_submitted": True,
                "email": "owner@example.test",
                "payouts_enabled": True,
                "type": "standard",
                "settings": {
                    "dashboard": {"display_name": self.display_name, "timezone": "Etc/UTC"}
                },
            },
        )

    def _get_balance(self, request: httpx.Request, ctx: _Ctx) -> httpx.Response:
        _check_known(ctx.params, ["expand"])
        captured = sum(c["amount_captured"] - c["amount_refunded"] for c in self.charges.values())
        return self._ok(
            ctx,
            {
                "object": "balance",
                "available": [
                    {"amount": captured, "currency": "usd", "source_types": {"card": captured}}
                ],
                "connect_reserved": [{"amount": 0, "currency": "usd"}],
                "livemode": False,
                "pending": [{"amount": 0, "currency": "usd", "source_types": {"card": 0}}],
            },
        )

    _LIST_PARAMS = ("limit", "starting_after", "ending_before", "expand", "created")

    def _list_customers(self, request: httpx.Request, ctx: _Ctx) -> httpx.Response:
        _check_known(ctx.params, [*self._LIST_PARAMS, "email", "test_clock"])
        objects = list(self.customers.values())
        if "email" in ctx.params:
            objects = [c for c in objects if c["email"] == ctx.params["email"]]
        objects = self._created_filter(ctx.params, objects)
        if "expand" in ctx.params:
            self._expand(ctx, {}, {}, in_list=True)
        return self._page(ctx, "customer", objects, "/v1/customers")

    _CUSTOMER_FIELDS = (
        "name",
        "email",
        "phone",
        "description",
        "address",
        "metadata",
        "preferred_locales",
        "tax_exempt",
        "expand",
    )

    def _customer_fields(self, params: Json) -> Json:
        fields: Json = {}
        for name in ("name", "email", "phone", "description"):
            if name in params:
                fields[name] = _as_str(params, name)
        if "address" in params:
            address = params["address"]
            if address == "":
                fields["address"] = None
            elif isinstance(address, dict):
                _check_known(address, ["city", "country", "line1", "line2", "postal_code", "state"])
                fields["address"] = {
                    k: address.get(k)
                    for k in ("city", "country", "line1", "line2", "postal_code", "state")
                }
            else:
                raise StripeError(400, "Invalid hash", param="address")
        if "preferred_locales" in params:
            fields["preferred_locales"] = _as_list(params, "preferred_locales")
        if "tax_exempt" in params:
            value = params["tax_exempt"]
            if value not in ("none", "exempt", "reverse", ""):
                raise StripeError(
                    400,
                    f"Invalid tax_exempt: must be one of none, exempt, or reverse; got {value}",
                    param="tax_exempt",
                )
            fields["tax_exempt"] = value or None
        return fields

    def _create_customer(self, request: httpx.Request, ctx: _Ctx) -> httpx.Response:
        _check_known(ctx.params, [*self._CUSTOMER_FIELDS, "tax_id_data"])
        fields = self._customer_fields(ctx.params)
        fields["metadata"] = _merge_metadata({}, ctx.params.get("metadata"))
        if "tax_id_data" in ctx.params:
            for i, tax_id in enumerate(_as_list(ctx.params, "tax_id_data")):
                if not isinstance(tax_id, dict):
                    raise StripeError(400, "Invalid hash", param=f"tax_id_data[{i}]")
                for required in ("type", "value"):
                    if required not in tax_id:
                        raise _missing(f"tax_id_data[{i}][{required}]")
        customer = self._customer_object(fields)
        self._record_event("customer.created", customer, ctx.request_id, ctx.idempotency_key)
        return self._ok(ctx, customer)

    def _find_customer(self, customer_id: str) -> Json:
        customer = self.customers.get(customer_id)
        if customer is None:
            raise _no_such("customer", customer_id)
        return customer

    def _get_customer(self, request: httpx.Request, ctx: _Ctx) -> httpx.Response:
        _check_known(ctx.params, ["expand"])
        (customer_id,) = ctx.path_args
        if customer_id in self.deleted_customers:
            return self._ok(ctx, {"id": customer_id, "object": "customer", "deleted": True})
        return self._ok(ctx, self._find_customer(customer_id))

    def _update_customer(self, request: httpx.Request, ctx: _Ctx) -> httpx.Response:
        _check_known(ctx.params, self._CUSTOMER_FIELDS)
        (customer_id,) = ctx.path_args
        customer = self._find_customer(customer_id)
        fields = self._customer_fields(ctx.params)
        if "metadata" in ctx.params:
            fields["metadata"] = _merge_metadata(customer["metadata"], ctx.params["metadata"])
        previous = {k: customer.get(k) for k in fields}
        customer.update(fields)
        event = self._record_event(
            "customer.updated", customer, ctx.request_id, ctx.idempotency_key
        )
        event["data"]["previous_attributes"] = previous
        return self._ok(ctx, customer)

    def _delete_customer(self, request: httpx.Request, ctx: _Ctx) -> httpx.Response:
        _check_known(ctx.params, [])
        (customer_id,) = ctx.path_args
        customer = self.customers.pop(customer_id, None)
        if customer is None:
            raise _no_such("customer", customer_id)
        self.deleted_customers.add(customer_id)
        self._record_event("customer.deleted", customer, ctx.request_id, None)
        return self._ok(ctx, {"id": customer_id, "object": "customer", "deleted": True})

    def _list_charges(self, request: httpx.Request, ctx: _Ctx) -> httpx.Response:
        _check_known(
            ctx.params, [*self._LIST_PARAMS, "customer", "payment_intent", "transfer_group"]
        )
        objects = list(self.charges.values())
        for name in ("customer", "payment_intent"):
            if name in ctx.params:
                objects = [c for c in objects if c[name] == ctx.params[name]]
        if "transfer_group" in ctx.params:
            objects = []
        objects = self._created_filter(ctx.params, objects)
        if "expand" in ctx.params:
            response = self._page(ctx, "charge", objects, "/v1/charges")
            page = _json(response)
            page["data"] = [
                self._expand(ctx, c, {"customer": "customers"}, in_list=True) for c in page["data"]
            ]
            return self._ok(ctx, page)
        return self._page(ctx, "charge", objects, "/v1/charges")

    def _get_charge(self, request: httpx.Request, ctx: _Ctx) -> httpx.Response:
        _check_known(ctx.params, ["expand"])
        (charge_id,) = ctx.path_args
        charge = self.charges.get(charge_id)
        if charge is None:
            raise _no_such("charge", charge_id)
        return self._ok(ctx, self._expand(ctx, charge, {"customer": "customers"}, in_list=False))

    def _create_payment_intent(self, request: httpx.Request, ctx: _Ctx) -> httpx.Response:
        params = ctx.params
        _check_known(
            params,
            [
                "amount",
                "currency",
                "customer",
                "description",
                "receipt_email",
                "payment_method_types",
                "automatic_payment_methods",
                "capture_method",
                "confirm",
                "metadata",
                "expand",
                "payment_method",
                "return_url",
            ],
        )
        for required in ("amount", "currency"):
            if required not in params:
                raise _missing(required)
        amount = _as_int(params, "amount", minimum=1)
        currency = _as_str(params, "currency")
        customer = params.get("customer")
        if customer is not None and customer not in self.customers:
            raise _no_such("customer", str(customer), status=400, param="customer")
        capture = params.get("capture_method", "automatic")
        if capture not in ("automatic", "automatic_async", "manual"):
            raise StripeError(400, f"Invalid capture_method: {capture}", param="capture_method")
        intent: Json = {
            "id": self._new_id("pi"),
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_received": 0,
            "application": None,
            "application_fee_amount": None,
            "automatic_payment_methods": None,
            "canceled_at": None,
            "cancellation_reason": None,
            "capture_method": capture,
            "client_secret": None,
            "confirmation_method": "automatic",
            "created": self._tick(),
            "currency": currency,
            "customer": customer,
            "description": params.get("description"),
            "invoice": None,
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "metadata": _merge_metadata({}, params.get("metadata")),
            "next_action": None,
            "on_behalf_of": None,
            "payment_method": None,
            "payment_method_options": {},
            "payment_method_types": params.get("payment_method_types", ["card"]),
            "processing": None,
            "receipt_email": params.get("receipt_email"),
            "review": None,
            "setup_future_usage": None,
            "shipping": None,
            "statement_descriptor": None,
            "statement_descriptor_suffix": None,
            "status": "requires_payment_method",
            "transfer_data": None,
            "transfer_group": None,
        }
        intent["client_secret"] = f"{intent['id']}_secret_FAKE"
        if "confirm" in params:
            _as_bool(params, "confirm")
        self.payment_intents[intent["id"]] = intent
        self._record_event("payment_intent.created", intent, ctx.request_id, ctx.idempotency_key)
        return self._ok(ctx, intent)

    def _find_intent(self, intent_id: str) -> Json:
        intent = self.payment_intents.get(intent_id)
        if intent is None:
            raise _no_such("payment_intent", intent_id)
        return intent

    def _get_payment_intent(self, request: httpx.Request, ctx: _Ctx) -> httpx.Response:
        _check_known(ctx.params, ["expand"])
        return self._ok(ctx, self._find_intent(ctx.path_args[0]))

    def _confirm_payment_intent(self, request: httpx.Request, ctx: _Ctx) -> httpx.Response:
        """Test mode: a card payment method succeeds at once."""
        _check_known(ctx.params, ["payment_method", "return_url", "receipt_email", "expand"])
        intent = self._find_intent(ctx.path_args[0])
        if "payment_method" in ctx.params:
            intent["payment_method"] = _as_str(ctx.params, "payment_method")
        if not intent.get("payment_method"):
            raise StripeError(
                400, "You must provide a payment method to confirm.", param="payment_method"
            )
        intent.update(status="succeeded", amount_received=intent["amount"])
        return self._ok(ctx, intent)

    def _search_customers(self, request: httpx.Request, ctx: _Ctx) -> httpx.Response:
        """Only the ``email:'...'`` clause of Stripe's query language."""
        _check_known(ctx.params, ["query", "limit", "page", "expand"])
        wanted = re.fullmatch(r"email:'([^']*)'", str(ctx.params.get("query", "")))
        found = [c for c in self.customers.values() if wanted and c["email"] == wanted[1]]
        body = {
            "object": "search_result",
            "url": "/v1/customers/search",
            "has_more": False,
            "next_page": None,
            "data": found,
        }
        return self._ok(ctx, body)

    def _create_refund(self, request: httpx.Request, ctx: _Ctx) -> httpx.Response:
        params = ctx.params
        _check_known(params, ["charge", "payment_intent", "amount", "reason", "metadata", "expand"])
        if "charge" not in params and "payment_intent" not in params:
            raise StripeError(
                400,
                "One of the following params should be provided for this request: "
                "payment_intent or charge.",
                code="parameter_missing",
            )
        charge_id = params.get("charge")
        if charge_id is None:
            raise _no_such(
                "payment_intent", str(params["payment_intent"]), status=400, param="payment_intent"
            )
        charge = self.charges.get(str(charge_id))
        if charge is None:
            raise _no_such("charge", str(charge_id), status=400, param="charge")
        remaining = charge["amount_captured"] - charge["amount_refunded"]
        if remaining <= 0:
            raise StripeError(
                400,
                f"Charge {charge['id']} has already been refunded.",
                code="charge_already_refunded",
            )
        amount = _as_int(params, "amount", minimum=1) if "amount" in params else remaining
        if amount > remaining:
            raise StripeError(
                400,
                f"Refund amount ({amount}) is greater than unrefunded amount on charge "
                f"({remaining})",
                code="amount_too_large",
                param="amount",
            )
        reason = params.get("reason")
        if reason not in (None, "duplicate", "fraudulent", "requested_by_customer"):
            raise StripeError(400, f"Invalid reason: {reason}", param="reason")
        refund: Json = {
            "id": self._new_id("re"),
            "object": "refund",
            "amount": amount,
            "balance_transaction": None,
            "charge": charge["id"],
            "created": self._tick(),
            "currency": charge["currency"],
            "metadata": _merge_metadata({}, params.get("metadata")),
            "payment_intent": charge["payment_intent"],
            "reason": reason,
            "receipt_number": None,
            "source_transfer_reversal": None,
            "status": "succeeded",
            "transfer_reversal": None,
        }
        refund["balance_transaction"] = "txn_" + refund["id"][3:]
        self.refunds[refund["id"]] = refund
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] >= charge["amount_captured"]
        self._record_event("charge.refunded", charge, ctx.request_id, ctx.idempotency_key)
        return self._ok(ctx, refund)

    def _list_events(self, request: httpx.Request, ctx: _Ctx) -> httpx.Response:
        params = ctx.params
        _check_known(params, [*self._LIST_PARAMS, "type", "types", "delivery_success"])
        if "type" in params and "types" in params:
            raise StripeError(
                400, "You may only specify one of these parameters: type, types.", param="types"
            )
        objects = list(self.events.values())
        if "type" in params:
            pattern = re.compile(
                "^" + re.escape(_as_str(params, "type")).replace(r"\*", ".*") + "$"
            )
            objects = [e for e in objects if pattern.match(e["type"])]
        if "types" in params:
            wanted = set(_as_list(params, "types"))
            objects = [e for e in objects if e["type"] in wanted]
        if "delivery_success" in params:
            _as_bool(params, "delivery_success")
        objects = self._created_filter(params, objects)
        return self._page(ctx, "event", objects, "/v1/events")

    def _create_webhook_endpoint(self, request: httpx.Request, ctx: _Ctx) -> httpx.Response:
        params = ctx.params
        _check_known(
            params,
            [
                "url",
                "enabled_events",
                "description",
                "api_version",
                "connect",
                "metadata",
                "expand",
            ],
        )
        for required in ("url", "enabled_events"):
            if required not in params:
                raise _missing(required)
        url = _as_str(params, "url")
        if not url.startswith(("https://", "http://")):
            raise StripeError(400, f"Invalid URL: {url}", code="url_invalid", param="url")
        endpoint: Json = {
            "id": self._new_id("we"),
            "object": "webhook_endpoint",
            "api_version": params.get("api_version"),
            "application": None,
            "created": self._tick(),
            "description": params.get("description"),
            "enabled_events": _as_list(params, "enabled_events"),
            "livemode": False,
            "metadata": _merge_metadata({}, params.get("metadata")),
            "secret": f"whsec_FAKE{next(self._seq):010d}",
            "status": "enabled",
            "url": url,
        }
        self.webhook_endpoints[endpoint["id"]] = endpoint
        return self._ok(ctx, endpoint)

    def _delete_webhook_endpoint(self, request: httpx.Request, ctx: _Ctx) -> httpx.Response:
        _check_known(ctx.params, [])
        (endpoint_id,) = ctx.path_args
        if self.webhook_endpoints.pop(endpoint_id, None) is None:
            raise _no_such("webhook_endpoint", endpoint_id)
        return self._ok(ctx, {"id": endpoint_id, "object": "webhook_endpoint", "deleted": True})


def _merge_metadata(current: Json, update: Any) -> Json:
    """Stripe's metadata rules: ``""`` unsets all keys, a key set to ``""`` is removed."""
    if update is None:
        return dict(current)
    if update == "":
        return {}
    if not isinstance(update, dict):
        raise StripeError(400, "Invalid hash", param="metadata")
    merged = dict(current)
    for key, value in update.items():
        if len(key) > 40:
            raise StripeError(
                400, f"Metadata key {key!r} is longer than 40 characters.", param="metadata"
            )
        if not isinstance(value, str):
            raise StripeError(400, "Invalid hash", param=f"metadata[{key}]")
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    if len(merged) > 50:
        raise StripeError(400, "Metadata may have at most 50 keys.", param="metadata")
    return merged


def _mask(key: str) -> str:
    """Stripe shows a wrong key masked: its prefix, asterisks, the last four characters."""
    if len(key) <= 12:
        return "*" * len(key)
    prefix = key[:8] if key[:3] in ("sk_", "rk_", "pk_") else ""
    return prefix + "*" * (len(key) - len(prefix) - 4) + key[-4:]


def _json(response: httpx.Response) -> Json:
    body = json.loads(response.content)
    assert isinstance(body, dict)
    return body


DEMO: dict[str, Any] = {
    "action": "list_customers",
    "input": {},
    "credentials": {"api_key": DEMO_KEY},
    "variables": {},
}


def make_standin(items: int = 25) -> StripeStandIn:
    """A stand-in that accepts ``DEMO``'s key."""
    return StripeStandIn(items, api_keys=[DEMO_KEY])
