"""The connector spec format as pydantic models.

This module is the single source of truth of the format: ``specs/connector.schema.json`` is
generated from :class:`ConnectorSpec` (``patchbay schema``), and a test proves that the published
schema and the model accept and reject the same documents. Structural rules that JSON Schema can
express live here (as ``json_schema_extra`` where pydantic cannot derive them); rules that need
the whole document (declared variables, unique names, pagination paths present in a response
schema) live in :mod:`runtime.spec._checks`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from patchbay.runtime.errors import ErrorCode

JsonSchema = dict[str, Any]
HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]

NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
IDEMPOTENT_METHODS: frozenset[str] = frozenset({"GET", "HEAD", "PUT", "DELETE"})

_CONDITION_OPS = ("equals", "not_equals", "in", "exists", "matches")


def _exactly_one_of(*names: str) -> dict[str, Any]:
    return {"oneOf": [{"required": [n]} for n in names]}


def _at_most_one_of(*names: str) -> dict[str, Any]:
    return {"not": {"anyOf": [{"required": [a, b]} for a in names for b in names if a < b]}}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# ------------------------------------------------------------- mock fidelity (vendor behaviour)
# How the vendor behaves beyond what a client sends: read only by the mock (mocks/server/),
# so a mock of the spec answers the vendors' own SDKs the way the vendor does.

MockSituation = Literal["auth_invalid", "not_found", "idempotency_conflict", "validation"]


class MockAuth(_Model):
    """What the vendor accepts for this variant besides the client's own form."""

    prefixes: list[str] = Field(
        default_factory=list,
        description="Other header prefixes the vendor accepts for the same token (GitHub "
        "takes 'token ' as well as 'Bearer ').",
    )


class MockError(_Model):
    """The body the vendor sends for this rule, used by the mock in the given situations."""

    situations: list[MockSituation] = Field(
        default_factory=list,
        description="When the mock answers with this rule (bad credentials, an unknown id, an "
        "idempotency key reused with another body, invalid input).",
    )
    status: int | None = Field(default=None, ge=100, le=599)
    body: Any = Field(
        default=None,
        description="The vendor's documented body for this error; {message} and {id} inside "
        "strings are filled in. Unset: built from the rule's conditions and paths.",
    )


class MockAction(_Model):
    """How the vendor answers this action: statuses, state, listing and identity details."""

    status: int | None = Field(
        default=None, ge=200, le=299, description="Success status (201 on creates, 204)."
    )
    methods: list[HttpMethod] = Field(
        default_factory=list, description="Other methods the vendor accepts for this action."
    )
    aliases: list[str] = Field(
        default_factory=list,
        description="Other path templates the vendor answers this action on, with the same "
        "parameters (HubSpot's /crm/v3/objects/contacts beside the date-versioned path).",
    )
    encodings: list[Literal["query", "form", "json"]] = Field(
        default_factory=list,
        description="Ways the input may arrive besides the action's own (Slack takes query, "
        "form or JSON for every method).",
    )
    echo: dict[str, str] = Field(
        default_factory=dict,
        description="Input name -> output field path where the names differ (Twilio To -> to).",
    )
    expand: dict[str, str] = Field(
        default_factory=dict,
        description="Input list -> the key each item becomes inside the output's object shape "
        "(GitHub labels: 'bug' -> {name: 'bug', ...}).",
    )
    initial: dict[str, Any] = Field(
        default_factory=dict,
        description="Output field path -> the value the vendor sets: a new resource's initial "
        "state, or the state an update such as a confirm leaves it in.",
    )
    fields: dict[str, str] = Field(
        default_factory=dict,
        description="Output field path -> template filled from path parameters, input and "
        "{_origin} {_base} {_path} {_page} {_page_size} {_total} {_first} {_next} {_id} "
        "(full_name from owner/repo; a list's url; envelope counters). A template that is one "
        "placeholder keeps the value's type.",
    )
    unknown_ids: Literal["synthesize", "not_found"] = Field(
        default="synthesize",
        description="What an id that was never created (nor listed, nor in a fixture) gets.",
    )
    filters: dict[str, str] = Field(
        default_factory=dict,
        description="List input -> item field path it must equal (Stripe email, GitHub state).",
    )
    page_param: str | None = Field(
        default=None, description="The vendor's page-number parameter its next links carry."
    )
    link_rels: list[str] = Field(
        default_factory=list,
        description="Relations the vendor's Link header carries (next, last, first, prev).",
    )
    next_url: Literal["absolute", "relative"] = Field(
        default="absolute", description="Whether next-page URLs in bodies carry the origin."
    )


# --------------------------------------------------------------------------- identity, connection


ValueFormat = Literal["dns_label", "hostname", "https_origin", "email"]

_FORMAT_HELP = (
    "A format the value must have, checked with pattern and enum before the value is used or "
    "stored: dns_label (one host label), hostname, https_origin (exactly https://host[:port]), "
    "email."
)


class Variable(_Model):
    """A connection variable used in base URL, header or path templates (``{subdomain}``).

    Values are checked (``enum``, ``pattern``, ``format``) before they are used or stored; a
    variable inside a base URL's host must declare a pattern, an enum or a map.
    """

    description: str = ""
    default: str | None = None
    enum: list[str] | None = None
    pattern: str | None = Field(
        default=None, description="A regular expression (search) the value must match."
    )
    format: ValueFormat | None = Field(default=None, description=_FORMAT_HELP)
    map: dict[str, str] | None = Field(
        default=None,
        description="Substitute the chosen value before templating (e.g. region 'eu' -> host).",
    )
    secret: bool = False
    example: str | None = Field(
        default=None, description="An obviously fake valid value (mocks and docs use it)."
    )


_ORIGIN_PATTERN = r"^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?$"


class ConnectionSpec(_Model):
    base_url: str = Field(description="Base URL template, e.g. https://{subdomain}.zendesk.com.")
    variables: dict[str, Variable] = Field(default_factory=dict)
    headers: dict[str, str] = Field(
        default_factory=dict, description="Headers sent with every request (templates allowed)."
    )
    allowed_origins: list[Annotated[str, Field(pattern=_ORIGIN_PATTERN)]] = Field(
        default_factory=list,
        description="Other https origins (https://host[:port]) a response may send the next "
        "request to, with credentials, for vendors that document a second host. Any other "
        "origin in a next-page URL or Link header is refused.",
    )


# --------------------------------------------------------------------------------------- auth


class CredentialField(_Model):
    """A value the user supplies when connecting (an API key, an account SID, ...).

    Checked before use or storage: ``pattern`` and ``format``, at least 4 characters (a
    shorter secret could not be redacted by value), no control characters, and printable
    ASCII when the variant sends it in a header."""

    description: str = ""
    secret: bool = True
    pattern: str | None = Field(
        default=None, description="A regular expression (search) the value must match."
    )
    format: ValueFormat | None = Field(default=None, description=_FORMAT_HELP)
    example: str | None = Field(default=None, description="An obviously fake example value.")


class _AuthBase(_Model):
    name: str = Field(pattern=NAME_PATTERN)
    title: str = ""
    description: str = ""
    fields: dict[str, CredentialField] = Field(default_factory=dict)
    mock: MockAuth | None = None


class BearerAuth(_AuthBase):
    type: Literal["bearer"]
    token: str = Field(description="Template of the token, e.g. '{api_key}'.")
    header: str = "Authorization"
    prefix: str = "Bearer "


class ApiKeyParam(_Model):
    name: str
    value: str = Field(description="Template of the value, e.g. '{api_key}'.")
    prefix: str = ""


class ApiKeyAuth(_AuthBase):
    type: Literal["api_key"]
    in_: Literal["header", "query"] = Field(alias="in")
    params: list[ApiKeyParam] = Field(min_length=1)


class BasicAuth(_AuthBase):
    type: Literal["basic"]
    username: str = Field(description="Template, e.g. 'api' or '{email}/token'.")
    password: str = Field(description="Template, e.g. '{api_key}'.")


class Condition(_Model):
    """One test on a JSON path of a body (or, in ``headers``, on a header named by ``path``)."""

    model_config = ConfigDict(json_schema_extra=_exactly_one_of(*_CONDITION_OPS))

    path: str
    equals: Any = None
    not_equals: Any = None
    in_: list[Any] | None = Field(default=None, alias="in")
    exists: bool | None = None
    matches: str | None = Field(default=None, description="A regular expression (search).")

    @model_validator(mode="after")
    def _one_operator(self) -> Condition:
        given = [
            op
            for op in _CONDITION_OPS
            if op in self.model_fields_set or f"{op}_" in self.model_fields_set
        ]
        if len(given) != 1:
            raise ValueError(f"a condition needs exactly one of {', '.join(_CONDITION_OPS)}")
        return self


class Match(_Model):
    """All given parts must hold. ``status`` entries are codes or classes like ``"5xx"``."""

    status: (
        list[Annotated[int, Field(ge=100, le=599)] | Annotated[str, Field(pattern=r"^[1-5]xx$")]]
        | None
    ) = None
    headers: list[Condition] = Field(default_factory=list)
    body: list[Condition] = Field(default_factory=list)


class OAuth2TokenResponse(_Model):
    """Where the fields of a token endpoint's JSON response are."""

    access_token: str = "access_token"
    refresh_token: str | None = "refresh_token"
    expires_in: str | None = "expires_in"
    token_type: str | None = "token_type"
    scope: str | None = "scope"
    error_path: str = "error"
    success: list[Condition] = Field(
        default_factory=list, description="Extra success tests, e.g. Slack's ok == true."
    )


class OAuth2Refresh(_Model):
    supported: bool = True
    rotates_refresh_token: bool = False
    skew_seconds: int = Field(default=300, ge=0)
    default_expires_in: int | None = Field(
        default=None, description="Assumed lifetime when the token response has no expires_in."
    )


class OAuth2Revoke(_Model):
    """How ``revoke_url`` wants a grant revoked: RFC 7009 by default, else the vendor's own call."""

    method: Literal["POST", "DELETE"] = "POST"
    token: Literal["refresh_token", "access_token"] = Field(
        default="refresh_token",
        description="Which stored token is revoked. An expired access token is refreshed first "
        "(Dropbox, Zendesk and Slack revoke the token that authenticates the call).",
    )
    token_in: Literal["form", "bearer", "path"] = Field(
        default="form",
        description="form: RFC 7009 form body token=... (Google, Salesforce, HubSpot 2026-03); "
        "bearer: the token authenticates a call without a body, in the variant's header with "
        "its prefix (Dropbox, Zendesk, Slack auth.revoke); path: appended to revoke_url as its "
        "last path segment (HubSpot v1 DELETE /oauth/v1/refresh-tokens/{token}).",
    )
    token_type_hint: bool = Field(
        default=True, description="form: also send token_type_hint (RFC 7009 section 2.1)."
    )
    client_auth: bool = Field(
        default=True,
        description="form: authenticate the client as the variant's client_auth says "
        "(RFC 7009 for confidential clients); false for vendors that only want the token.",
    )
    success: list[Condition] = Field(
        default_factory=list,
        description="Extra tests a 2xx answer must pass, e.g. Slack's ok == true.",
    )


class OAuth2Auth(_AuthBase):
    type: Literal["oauth2"]
    grant: Literal["authorization_code", "client_credentials"] = "authorization_code"
    authorize_url: str | None = None
    token_url: str
    refresh_url: str | None = None
    revoke_url: str | None = Field(
        default=None, description="Where `patchbay connections delete` revokes the grant."
    )
    revoke: OAuth2Revoke = Field(default_factory=OAuth2Revoke)
    scopes: list[str] = Field(default_factory=list)
    scope_separator: str = " "
    scope_param: str = "scope"
    pkce: bool = False
    authorize_params: dict[str, str] = Field(default_factory=dict)
    client_auth: Literal["basic", "body"] = "body"
    token_response: OAuth2TokenResponse = Field(default_factory=OAuth2TokenResponse)
    refresh: OAuth2Refresh = Field(default_factory=OAuth2Refresh)
    variables_from_token: dict[str, str] = Field(
        default_factory=dict,
        description="Connection variable -> path in the token response (Salesforce instance_url).",
    )
    header: str = "Authorization"
    prefix: str = "Bearer "


AuthVariant = Annotated[
    BearerAuth | ApiKeyAuth | BasicAuth | OAuth2Auth, Field(discriminator="type")
]


# ------------------------------------------------------------------------------------ actions


class Parameter(_Model):
    name: str
    in_: Literal["path", "query", "header"] = Field(alias="in")
    required: bool = False
    description: str = ""
    schema_: JsonSchema = Field(default_factory=lambda: {"type": "string"}, alias="schema")
    style: Literal["form", "comma", "brackets", "deep_object", "json"] = Field(
        default="form",
        description=(
            "How arrays/objects go on the wire: form (repeat key), comma (a,b), brackets "
            "(key[]=a), deep_object (key[sub]=v, Stripe), json (JSON text, e.g. Dropbox-API-Arg)."
        ),
    )


class Body(_Model):
    encoding: Literal["json", "form", "multipart", "raw"]
    schema_: JsonSchema = Field(default_factory=lambda: {"type": "object"}, alias="schema")
    content_type: str | None = Field(default=None, description="For raw bodies.")
    raw_field: str | None = Field(default=None, description="Input property holding a raw body.")
    files: list[str] = Field(
        default_factory=list, description="Multipart properties sent as files."
    )
    envelope: str | None = Field(
        default=None, description="Wrap body fields in this key (Asana 'data')."
    )


class Output(_Model):
    schema_: JsonSchema = Field(default_factory=dict, alias="schema")
    result_path: str = Field(default="", description="Path to the result inside the response body.")
    format: Literal["json", "text", "binary"] = "json"


class PageSize(_Model):
    param: str
    default: int | None = Field(default=None, ge=1)
    max: int | None = Field(default=None, ge=1)
    in_: Literal["query", "body"] = Field(default="query", alias="in")


class _PaginationBase(_Model):
    items_path: str = Field(description="Path to the list of items in each page ('' = the body).")
    page_size: PageSize | None = None
    has_more_path: str | None = Field(default=None, description="A boolean: false ends paging.")
    stop_on_empty_page: bool = Field(
        default=True,
        description="End at an empty page. Set false for APIs that may return an empty page "
        "with a cursor to continue (Slack); the repeat guard still ends bad loops.",
    )


class CursorPagination(_PaginationBase):
    model_config = ConfigDict(
        json_schema_extra=_exactly_one_of("next_cursor_path", "cursor_from_last_item")
    )

    style: Literal["cursor"]
    cursor_param: str
    cursor_in: Literal["query", "body"] = "query"
    next_cursor_path: str | None = None
    cursor_from_last_item: str | None = Field(
        default=None, description="Path inside the last item giving the cursor (Stripe 'id')."
    )

    @model_validator(mode="after")
    def _one_source(self) -> CursorPagination:
        if (self.next_cursor_path is None) == (self.cursor_from_last_item is None):
            raise ValueError("give exactly one of next_cursor_path, cursor_from_last_item")
        return self


class OffsetPagination(_PaginationBase):
    style: Literal["offset"]
    offset_param: str
    param_in: Literal["query", "body"] = "query"
    start: int = Field(default=0, ge=0)
    next_offset_path: str | None = None
    total_path: str | None = None


class PagePagination(_PaginationBase):
    style: Literal["page"]
    page_param: str
    param_in: Literal["query", "body"] = "query"
    start: int = Field(default=1, ge=0)
    total_pages_path: str | None = None


class LinkHeaderPagination(_PaginationBase):
    style: Literal["link_header"]
    rel: str = "next"


class NextUrlPagination(_PaginationBase):
    style: Literal["next_url"]
    next_url_path: str


class ContinueEndpointPagination(_PaginationBase):
    style: Literal["continue_endpoint"]
    continue_path: str
    continue_method: HttpMethod = "POST"
    cursor_path: str
    cursor_field: str = "cursor"


Pagination = Annotated[
    CursorPagination
    | OffsetPagination
    | PagePagination
    | LinkHeaderPagination
    | NextUrlPagination
    | ContinueEndpointPagination,
    Field(discriminator="style"),
]


class ResourceEffect(_Model):
    """What an action does to one kind of vendor resource. The mock keeps state from it, so
    RPC-style APIs (Slack's chat.postMessage then conversations.history) and paths REST
    inference cannot read (Twilio's /Messages/{sid}.json) behave like the vendor."""

    name: str = Field(description="The kind of resource, shared by the actions on it.")
    op: Literal["create", "get", "list", "update", "delete"]
    id: str | None = Field(default=None, description="Input naming the item (get, update, delete).")
    id_field: str | None = Field(
        default=None, description="The item's id field, when it is not named like the input."
    )
    scope: dict[str, str] = Field(
        default_factory=dict,
        description="Partition name -> the input giving it (a Slack channel; a Trello board, "
        "idBoard on create and board_id on list).",
    )
    item_path: str = Field(
        default="", description="Where the item sits in the response ('' = the result)."
    )


class Action(_Model):
    name: str = Field(pattern=NAME_PATTERN)
    title: str = ""
    description: str = ""
    method: HttpMethod
    path: str = Field(description="Path template relative to the base URL, e.g. /customers/{id}.")
    base_url: str | None = Field(default=None, description="Override of the connection base URL.")
    headers: dict[str, str] = Field(default_factory=dict)
    parameters: list[Parameter] = Field(default_factory=list)
    body: Body | None = None
    output: Output = Field(default_factory=Output)
    pagination: Pagination | None = None
    idempotent: bool | None = Field(
        default=None,
        description="Safe to repeat; defaults to true for GET/HEAD/PUT/DELETE.",
    )
    idempotency_key: bool | None = Field(
        default=None,
        description="Send an idempotency key; defaults to the connector's idempotency setting.",
    )
    auth: list[str] | None = Field(
        default=None, description="Auth variants allowed (all if unset)."
    )
    resource: ResourceEffect | None = None
    mock: MockAction | None = None

    @property
    def is_idempotent(self) -> bool:
        if self.idempotent is not None:
            return self.idempotent
        return self.method in IDEMPOTENT_METHODS


class TestConnection(_Model):
    __test__ = False  # not a pytest test class

    method: HttpMethod = "GET"
    path: str
    query: dict[str, str] = Field(default_factory=dict)
    body: dict[str, Any] | None = None
    success: Match | None = Field(
        default=None, description="What counts as success (default: 2xx and no error rule hit)."
    )
    account_label_path: str | None = None
    account_id_path: str | None = None


# ----------------------------------------------------------------------- errors, rate limits


class ErrorRule(_Model):
    when: Match
    code: ErrorCode
    message_path: str | None = None
    vendor_code_path: str | None = None
    retryable: bool | None = None
    retry_after_seconds: float | None = Field(
        default=None, ge=0, description="Wait to assume when the vendor gives none."
    )
    mock: MockError | None = None


class ErrorsSpec(_Model):
    rules: list[ErrorRule] = Field(default_factory=list)
    message_path: str | None = None
    vendor_code_path: str | None = None
    request_id_header: str | None = None
    should_retry_header: str | None = Field(
        default=None, description="A header whose true/false overrides retryability (Stripe)."
    )


class Budget(_Model):
    requests: int = Field(ge=1)
    per_seconds: float = Field(gt=0)


class RateLimitSpec(_Model):
    retry_after_header: str | None = "Retry-After"
    retry_after_path: str | None = Field(default=None, description="Body path (Dropbox).")
    reset_header: str | None = None
    reset_format: Literal["epoch_seconds", "epoch_milliseconds", "delta_seconds"] = "epoch_seconds"
    remaining_header: str | None = None
    budget: Budget | None = None


class IdempotencySpec(_Model):
    header: str = "Idempotency-Key"
    auto: bool = Field(default=True, description="Generate a key when the caller gives none.")
    methods: list[HttpMethod] = Field(default_factory=lambda: list[HttpMethod](["POST"]))
    max_length: int = Field(default=255, ge=1)


# ---------------------------------------------------------------------------------- triggers


class PollingCursor(_Model):
    kind: Literal["id", "timestamp", "sync_token"]
    field: str | None = Field(default=None, description="Path in each item (id / timestamp).")
    param: str | None = Field(
        default=None,
        description="Input that takes the cursor; a path such as 'created.gt' sets a key of an "
        "object input (Stripe's created[gt]).",
    )
    input: dict[str, Any] = Field(
        default_factory=dict,
        description="Inputs used only once there is a cursor, over the trigger's input: each "
        "string is a template over {cursor} (a query expression such as Drive's q or a SOQL "
        "WHERE clause; a string that is exactly {cursor} takes the value as is), and null "
        "removes an input only the first request needs (Zendesk's start_time).",
    )
    action: str | None = Field(
        default=None,
        description="Action polled once there is a cursor, when it is not the trigger's own "
        "(Dropbox's list_folder/continue after list_folder).",
    )
    format: Literal["iso8601", "rfc2822", "epoch_seconds", "epoch_milliseconds", "opaque"] = Field(
        default="opaque", description="How items carry the cursor field."
    )
    write_as: Literal["stored", "iso8601", "date", "epoch_seconds", "epoch_milliseconds"] = Field(
        default="stored",
        description="How a timestamp cursor (and {now}) is written into param and input: as "
        "stored, or converted (iso8601 is UTC to the second with Z; date is YYYY-MM-DD, "
        "Twilio's DateSent>). Converting rounds down, so a poll reads a little more, never less; "
        "the seen-ID ledger drops the repeats.",
    )
    token_path: str | None = Field(
        default=None, description="Response path of the next sync token."
    )
    stale_status: list[int] = Field(
        default_factory=list, description="Status meaning resync (410)."
    )
    stale_codes: list[str] = Field(
        default_factory=list,
        description="Vendor error codes (prefixes) meaning resync, for vendors whose stale "
        "status is shared with other errors (Dropbox's 409 'reset').",
    )


class PollingTrigger(_Model):
    name: str = Field(pattern=NAME_PATTERN)
    title: str = ""
    description: str = ""
    action: str
    input: dict[str, Any] = Field(
        default_factory=dict,
        description="Fixed input of every poll; strings may use {now}, the poll's start time "
        "less lookback_seconds, written as cursor.write_as says (Zendesk's start_time).",
    )
    cursor: PollingCursor
    dedupe_key: str = "id"
    where: list[Condition] = Field(
        default_factory=list,
        description="Conditions on each item (paths inside it) that all must hold for it to "
        "become an event; items that fail still move the cursor (GitHub lists pull requests "
        "among issues: pull_request must not exist).",
    )
    order: Literal["asc", "desc", "unordered"] = "desc"
    start: Literal["read", "now"] = Field(
        default="read",
        description="How the first poll starts from now: 'read' the newest records and deliver "
        "none of them (the request without a cursor must list newest first, or be complete), "
        "or set a timestamp cursor to 'now' without reading, for lists only readable oldest "
        "first (GitHub issues by updated, Mailgun events ascending); no backfill then.",
    )
    default_interval_seconds: int = Field(default=300, ge=1)
    lookback_seconds: int = Field(default=0, ge=0)


class WebhookVerification(_Model):
    """How a delivery proves it came from the vendor: a signature grammar plus its parameters.

    Vendors differ only in parameters, so the grammar is named, never the vendor."""

    scheme: Literal["hmac", "timestamped_list", "standard_webhooks"] = Field(
        description="hmac: one signature (after signature_prefix) in signature_header, the "
        "timestamp, if any, in timestamp_header. timestamped_list: signature_header holds "
        "comma-separated t=<timestamp> and v1=<signature> items, any v1 may match. "
        "standard_webhooks: the Standard Webhooks headers (webhook-id, webhook-timestamp, "
        "webhook-signature with space-separated v1,<base64> items)."
    )
    signature_header: str
    signature_prefix: str = ""
    timestamp_header: str | None = None
    signed_payload: str = Field(
        default="{body}", description="Template over {timestamp}, {body}, {id}."
    )
    algorithm: Literal["sha256", "sha1"] = "sha256"
    encoding: Literal["hex", "base64"] = "hex"
    tolerance_seconds: int | None = Field(default=300, ge=0)
    secret_encoding: Literal["utf8", "base64"] = "utf8"
    timestamp_format: Literal["unix", "iso8601"] = Field(
        default="unix",
        description="How the vendor writes the timestamp it signs (seconds, or ISO 8601 UTC).",
    )


class WebhookHandshake(_Model):
    type_path: str
    type_value: str
    challenge_path: str
    respond_with: Literal["text", "json"] = "text"


_TEMPLATE_RULES = (
    "Strings are {name} templates; a string that is exactly one {name} takes the value as is "
    "(a list, a number), others are rendered as text. Names: {url} (the subscription's URL), "
    "{events} (the caller's event types, else the webhook's), {secret} (only when Patchbay "
    "generates the secret), {result.<path>} (the create result; not in create's own input), "
    "and any other name is a parameter the caller must pass (--param name=value) unless "
    "registration.defaults has it."
)


class WebhookCall(_Model):
    """One call of a connector action made while registering or removing an endpoint."""

    action: str = Field(description="Name of an action of this connector.")
    input: dict[str, Any] = Field(
        default_factory=dict, description=f"The action's input. {_TEMPLATE_RULES}"
    )


class WebhookRegistration(_Model):
    """How ``patchbay webhooks register`` creates the vendor's endpoint through the connector's
    own actions, where the signing secret comes from, what is kept to remove it again, and how.
    Nothing is stored when a call fails; a webhook whose secret cannot be read is deleted."""

    model_config = ConfigDict(
        json_schema_extra={
            "if": {"required": ["secret_call"], "properties": {"secret_call": {"type": "object"}}},
            "then": {
                "required": ["secret_path"],
                "properties": {"secret_path": {"type": "string"}},
            },
        }
    )

    create: WebhookCall = Field(description="Creates the endpoint (the vendor's webhook).")
    defaults: dict[str, str] = Field(
        default_factory=dict,
        description="Values of caller parameters the caller may leave out (Typeform's tag).",
    )
    all_events: str | None = Field(
        default=None,
        description="{events} is [this] when neither the caller nor the webhook names any "
        "event type (Stripe and GitHub '*').",
    )
    secret_path: str | None = Field(
        default=None,
        description="Path of the signing secret in the create result, or in secret_call's "
        "result when given. Unset: Patchbay generates the secret and create sends it as "
        "{secret}.",
    )
    secret_call: WebhookCall | None = Field(
        default=None,
        description="A second call whose result holds the secret, for vendors that hand it out "
        "separately (Zendesk); needs secret_path.",
    )
    info: dict[str, Any] = Field(
        default_factory=dict,
        description="What is stored (in clear) beside the secret to remove the endpoint later, "
        "e.g. {'hook_id': '{result.id}'}; the key 'action' is Patchbay's.",
    )
    delete: WebhookCall | None = Field(
        default=None,
        description="Removes the endpoint; its input names only keys of info. Unset: "
        "unregister removes the local subscription only.",
    )

    @model_validator(mode="after")
    def _secret_call_needs_path(self) -> WebhookRegistration:
        if self.secret_call is not None and self.secret_path is None:
            raise ValueError("secret_call needs secret_path")
        return self


class ManualRegistration(_Model):
    """A webhook endpoint the user sets up in the vendor's own settings, because the vendor has
    no API for it (Slack's Events API Request URL lives in the app configuration). Patchbay
    registers nothing: ``patchbay webhooks url`` prints the URL to paste, and ``register``
    answers with these instructions."""

    manual: Literal[True] = Field(description="Registered by the user, not through an API.")
    instructions: str = Field(
        min_length=1, description="What the user does in the vendor's settings (short)."
    )
    settings_url: str | None = Field(
        default=None, description="Where in the vendor's console the endpoint is set."
    )


class Webhook(_Model):
    name: str = Field(pattern=NAME_PATTERN)
    title: str = ""
    description: str = ""
    verification: WebhookVerification
    secret_field: str = Field(description="Connection field or variable holding the secret.")
    event_type_path: str | None = None
    event_type_header: str | None = None
    delivery_id_header: str | None = None
    delivery_id_path: str | None = None
    retry_header: str | None = Field(default=None, description="Header marking a redelivery.")
    registration: WebhookRegistration | ManualRegistration | None = Field(
        default=None,
        description="How Patchbay registers the endpoint with the vendor, or {manual: true, "
        "instructions} where the vendor has no API for it; unset: undeclared (by hand).",
    )
    ack_only_events: list[str] = Field(
        default_factory=list,
        description="Event types that only test the endpoint (GitHub's ping): answered 200 "
        "after verification, never handed to handlers.",
    )
    handshake: WebhookHandshake | None = None
    max_body_bytes: int = Field(default=1_048_576, ge=1)
    events: dict[str, JsonSchema] = Field(default_factory=dict)

    @property
    def registration_action(self) -> str | None:
        """The action that creates the endpoint, if Patchbay registers it."""
        reg = self.registration
        return reg.create.action if isinstance(reg, WebhookRegistration) else None

    @property
    def api_registration(self) -> WebhookRegistration | None:
        """The registration block when Patchbay registers through an API call, else None."""
        reg = self.registration
        return reg if isinstance(reg, WebhookRegistration) else None


class Triggers(_Model):
    polling: list[PollingTrigger] = Field(default_factory=list)
    webhooks: list[Webhook] = Field(default_factory=list)


# ---------------------------------------------------------------------------------- connector


class ConnectorSpec(_Model):
    """A whole connector: identity, connection, auth, actions, errors, triggers."""

    schema_ref: str | None = Field(default=None, alias="$schema")
    name: str = Field(pattern=NAME_PATTERN)
    title: str
    version: str
    description: str = ""
    docs_url: str | None = None
    categories: list[str] = Field(default_factory=list)
    connection: ConnectionSpec
    auth: list[AuthVariant] = Field(min_length=1)
    test_connection: TestConnection
    actions: list[Action] = Field(min_length=1)
    errors: ErrorsSpec = Field(default_factory=ErrorsSpec)
    rate_limits: RateLimitSpec = Field(default_factory=RateLimitSpec)
    idempotency: IdempotencySpec | None = None
    triggers: Triggers = Field(default_factory=Triggers)
    todo: list[str] = Field(
        default_factory=list,
        description="Open points an importer could not decide (paging style, error rules); "
        "`patchbay validate` lists them without failing.",
    )
    defs: dict[str, JsonSchema] = Field(
        default_factory=dict,
        alias="$defs",
        description="Shared JSON Schemas, referenced from any schema as #/$defs/<Name>.",
    )

    def action(self, name: str) -> Action:
        for action in self.actions:
            if action.name == name:
                return action
        raise KeyError(name)

    def auth_variant(self, name: str) -> BearerAuth | ApiKeyAuth | BasicAuth | OAuth2Auth:
        for variant in self.auth:
            if variant.name == name:
                return variant
        raise KeyError(name)


#: Descriptions of the spec format's fields, by ``Model.field`` (``*.field``: any model), for the
#: fields whose ``Field(description=...)`` is not written inline. ``connector_json_schema`` puts
#: them into the published schema, and ``docs/spec-reference.md`` is rendered from that.
FIELD_DOCS: dict[str, str] = {
    "*.name": "Identifier, unique within its list (lower case, digits and underscores).",
    "*.title": "Short human-readable name.",
    "*.description": "What this is for, in a sentence or two.",
    "*.mock": "How the spec-driven mock imitates the vendor here.",
    "*.fields": "Credential fields the user supplies, by name.",
    "*.type": "Which kind of variant this is (the discriminator).",
    "*.header": "Header name.",
    "*.prefix": "Text put before the value.",
    "*.page_size": "The page-size parameter, its default and maximum.",
    "*.style": "Paging style (the discriminator).",
    "*.param_in": "Where the parameter goes: query string or body.",
    "*.start": "Value of the first page or offset.",
    "*.status": "HTTP status code(s).",
    "*.method": "HTTP method.",
    "*.secret": "A secret: redacted everywhere and encrypted at rest.",
    "ConnectorSpec.$schema": "URL or path of connector.schema.json, for editors.",
    "ConnectorSpec.version": "Version of this spec (free form, e.g. 1.2.0).",
    "ConnectorSpec.docs_url": "The vendor's API reference.",
    "ConnectorSpec.categories": "Catalogue tags, e.g. payments, crm.",
    "ConnectorSpec.connection": "Base URL, connection variables and default headers.",
    "ConnectorSpec.auth": "Auth variants; a connection uses one of them.",
    "ConnectorSpec.test_connection": "The request that proves a connection works.",
    "ConnectorSpec.actions": "Operations callable by name (and one method each in clients).",
    "ConnectorSpec.errors": "How vendor responses map to Patchbay error codes.",
    "ConnectorSpec.rate_limits": "Where the vendor says how long to wait; a client budget.",
    "ConnectorSpec.idempotency": "The vendor's idempotency-key header, if it has one.",
    "ConnectorSpec.triggers": "Polling triggers and webhooks.",
    "Action.method": "HTTP method of the request.",
    "Action.headers": "Extra header templates for this action.",
    "Action.parameters": "Path, query and header parameters.",
    "Action.body": "The request body and its encoding.",
    "Action.output": "Schema and location of the result.",
    "Action.pagination": "How to read the following pages (null: one request).",
    "Action.resource": "What the action does to which resource (for the mock's state).",
    "ApiKeyAuth.in": "Where the key goes: a header or the query string.",
    "ApiKeyAuth.params": "The header(s) or query parameter(s) that carry the key.",
    "ApiKeyParam.name": "Header or query parameter name.",
    "ApiKeyParam.prefix": "Text before the value, e.g. 'Token '.",
    "BearerAuth.header": "Header carrying the token.",
    "BearerAuth.prefix": "Text before the token.",
    "Body.encoding": "json, form (bracketed keys), multipart or raw.",
    "Body.schema": "JSON Schema of the body's input properties.",
    "Budget.requests": "Requests allowed per window.",
    "Budget.per_seconds": "Length of the window in seconds.",
    "Condition.path": "Path into the body (or header name) to test.",
    "Condition.equals": "Holds when the value equals this.",
    "Condition.not_equals": "Holds when the value differs from this.",
    "Condition.in": "Holds when the value is one of these.",
    "Condition.exists": "Holds when the value is present (true) or absent (false).",
    "ConnectionSpec.variables": "Variables filled per connection (subdomain, region...).",
    "ContinueEndpointPagination.continue_path": "Path of the endpoint that returns next pages.",
    "ContinueEndpointPagination.continue_method": "HTTP method of the continue endpoint.",
    "ContinueEndpointPagination.cursor_path": "Path of the cursor in each response.",
    "ContinueEndpointPagination.cursor_field": "Body field sending the cursor.",
    "CredentialField.description": "What the user must enter.",
    "CredentialField.secret": "Redacted and encrypted (true by default).",
    "CursorPagination.cursor_param": "Parameter that sends the cursor.",
    "CursorPagination.cursor_in": "Where the cursor goes: query or body.",
    "CursorPagination.next_cursor_path": "Path of the next cursor in the body.",
    "ErrorRule.when": "Status, header and body conditions that select this rule.",
    "ErrorRule.code": "Normalized Patchbay error code.",
    "ErrorRule.message_path": "Path of the vendor's message.",
    "ErrorRule.vendor_code_path": "Path of the vendor's own error code.",
    "ErrorRule.retryable": "Override whether the error is retried.",
    "ErrorsSpec.rules": "Rules tried in order; the first match wins.",
    "ErrorsSpec.message_path": "Default path of the vendor's message.",
    "ErrorsSpec.vendor_code_path": "Default path of the vendor's error code.",
    "ErrorsSpec.request_id_header": "Header holding the vendor's request id.",
    "IdempotencySpec.header": "Header carrying the key.",
    "IdempotencySpec.methods": "Methods that get a key.",
    "IdempotencySpec.max_length": "Longest key the vendor accepts.",
    "LinkHeaderPagination.rel": "Link relation of the next page.",
    "Match.status": "Status codes or classes ('4xx').",
    "Match.headers": "Conditions on response headers.",
    "Match.body": "Conditions on the decoded body.",
    "MockError.status": "Status the mock answers with.",
    "NextUrlPagination.next_url_path": "Path of the next page's URL in the body.",
    "OAuth2Auth.grant": "OAuth2 grant type.",
    "OAuth2Auth.authorize_url": "Authorization endpoint (authorization_code grant).",
    "OAuth2Auth.token_url": "Token endpoint.",
    "OAuth2Auth.refresh_url": "Refresh endpoint when not the token URL.",
    "OAuth2Auth.revoke": "How the revocation request is sent.",
    "OAuth2Auth.scopes": "Scopes requested.",
    "OAuth2Auth.scope_separator": "Text joining scopes.",
    "OAuth2Auth.scope_param": "Authorize parameter carrying the scopes.",
    "OAuth2Auth.pkce": "Use PKCE (S256).",
    "OAuth2Auth.authorize_params": "Extra authorize parameters.",
    "OAuth2Auth.client_auth": "Client credentials in a Basic header or in the body.",
    "OAuth2Auth.token_response": "Paths into the token response.",
    "OAuth2Auth.refresh": "Refresh behaviour.",
    "OAuth2Auth.header": "Header carrying the access token.",
    "OAuth2Auth.prefix": "Text before the access token.",
    "OAuth2Refresh.supported": "The vendor issues refresh tokens.",
    "OAuth2Refresh.rotates_refresh_token": "Each refresh returns a new refresh token.",
    "OAuth2Refresh.skew_seconds": "Refresh this long before expiry.",
    "OAuth2Revoke.method": "HTTP method of the revocation.",
    "OAuth2TokenResponse.access_token": "Path of the access token.",
    "OAuth2TokenResponse.refresh_token": "Path of the refresh token.",
    "OAuth2TokenResponse.expires_in": "Path of the lifetime in seconds.",
    "OAuth2TokenResponse.token_type": "Path of the token type.",
    "OAuth2TokenResponse.scope": "Path of the granted scopes.",
    "OAuth2TokenResponse.error_path": "Path of an error code in a failed response.",
    "OffsetPagination.offset_param": "Parameter that sends the offset.",
    "OffsetPagination.next_offset_path": "Path of the next offset in the body.",
    "OffsetPagination.total_path": "Path of the total item count.",
    "Output.schema": "JSON Schema of the response body.",
    "Output.format": "json, text or binary.",
    "PagePagination.page_param": "Parameter that sends the page number.",
    "PagePagination.total_pages_path": "Path of the page count.",
    "PageSize.param": "Parameter that sends the page size.",
    "PageSize.default": "Size used when the caller gives none.",
    "PageSize.max": "Largest size the vendor accepts.",
    "PageSize.in": "Where the size goes: query or body.",
    "Parameter.in": "path, query or header.",
    "Parameter.required": "The caller must give it.",
    "Parameter.description": "What the parameter does (shown in client docstrings).",
    "Parameter.schema": "JSON Schema of the value.",
    "PollingCursor.kind": "What the cursor tracks: an id, a timestamp or a sync token.",
    "PollingTrigger.action": "The list action it polls.",
    "PollingTrigger.cursor": "How the position between polls is kept.",
    "PollingTrigger.dedupe_key": "Item path that identifies an event.",
    "PollingTrigger.order": "Order in which the action lists items.",
    "PollingTrigger.default_interval_seconds": "Seconds between polls.",
    "PollingTrigger.lookback_seconds": "Overlap re-read on every poll.",
    "RateLimitSpec.retry_after_header": "Header with the wait.",
    "RateLimitSpec.reset_header": "Header with the reset time.",
    "RateLimitSpec.reset_format": "How the reset header is written.",
    "RateLimitSpec.remaining_header": "Header with the remaining requests.",
    "RateLimitSpec.budget": "Client-side request budget.",
    "ResourceEffect.op": "The operation on the resource.",
    "TestConnection.method": "HTTP method.",
    "TestConnection.path": "Path relative to the base URL.",
    "TestConnection.query": "Query parameters.",
    "TestConnection.body": "JSON body, if any.",
    "TestConnection.account_label_path": "Path of a label for the account.",
    "TestConnection.account_id_path": "Path of the account's id.",
    "Triggers.polling": "Polling triggers.",
    "Triggers.webhooks": "Webhooks the vendor sends.",
    "Variable.description": "What the user must enter.",
    "Variable.default": "Value when none is given.",
    "Variable.enum": "The allowed values.",
    "Variable.secret": "Redacted and encrypted.",
    "Webhook.verification": "How signatures are checked.",
    "Webhook.event_type_path": "Body path of the event type.",
    "Webhook.event_type_header": "Header with the event type.",
    "Webhook.delivery_id_header": "Header with the delivery id.",
    "Webhook.delivery_id_path": "Body path of the delivery id.",
    "Webhook.handshake": "A URL verification challenge to answer.",
    "Webhook.max_body_bytes": "Largest accepted delivery.",
    "Webhook.events": "JSON Schema of each event type.",
    "WebhookHandshake.type_path": "Body path telling a challenge apart.",
    "WebhookHandshake.type_value": "Value at type_path that marks a challenge.",
    "WebhookHandshake.challenge_path": "Body path of the challenge.",
    "WebhookHandshake.respond_with": "Answer with the challenge as text or JSON.",
    "WebhookVerification.signature_header": "Header with the signature.",
    "WebhookVerification.signature_prefix": "Text before the signature, e.g. 'sha256='.",
    "WebhookVerification.timestamp_header": "Header with the signing time.",
    "WebhookVerification.algorithm": "HMAC hash algorithm.",
    "WebhookVerification.encoding": "How the signature is written: hex or base64.",
    "WebhookVerification.tolerance_seconds": "Largest accepted clock difference.",
    "WebhookVerification.secret_encoding": "How the secret is stored: text or base64.",
}


def _describe(schema: dict[str, Any]) -> dict[str, Any]:
    """Fill each property without a description from :data:`FIELD_DOCS`."""
    models = [("ConnectorSpec", schema), *schema.get("$defs", {}).items()]
    for model, body in models:
        for key, prop in body.get("properties", {}).items():
            if isinstance(prop, dict) and not prop.get("description"):
                text = FIELD_DOCS.get(f"{model}.{key}") or FIELD_DOCS.get(f"*.{key}")
                if text:
                    prop["description"] = text
    return schema


def connector_json_schema() -> dict[str, Any]:
    """The published JSON Schema (2020-12) of the spec format, derived from the models."""
    schema = _describe(ConnectorSpec.model_json_schema(by_alias=True, mode="validation"))
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://patchbay.dev/schemas/connector.schema.json",
        **schema,
    }
