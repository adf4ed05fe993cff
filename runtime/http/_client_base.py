"""The base of generated clients: a typed facade over the GenericExecutor.

Generated methods only turn keyword arguments into the action's input dict and the result into
models; every request still goes through :class:`~runtime.http.GenericExecutor`, so there is
exactly one HTTP path whether an action is called by name or through a generated method.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, ClassVar, Final, Self, TypedDict, cast

import httpx
from pydantic import BaseModel, ConfigDict, RootModel, SecretStr, TypeAdapter, ValidationError

from patchbay.runtime.errors import BadResponse, ConfigError, PatchbayError, ValidationFailed
from patchbay.runtime.http._connection import Connection, TokenProvider
from patchbay.runtime.http._executors import AsyncGenericExecutor, GenericExecutor
from patchbay.runtime.http._flow import Flow
from patchbay.runtime.http._options import CallOptions, ConnectionCheck, ExecutorOptions, Page
from patchbay.runtime.http._pagers import AsyncPager, Pager
from patchbay.runtime.http._paths import get_path
from patchbay.runtime.http._requests import RequestParts
from patchbay.runtime.spec._model import ConnectorSpec

_NO_OPTIONS = CallOptions()


@cache
def packaged_spec(package: str) -> ConnectorSpec:
    """The spec a generated package was built from (``spec.json`` beside it).

    It was fully validated at generation time and its hash is in the file headers, so loading
    is a plain model parse: cheap, and done once per process on first use.
    """
    text = resources.files(package).joinpath("spec.json").read_text(encoding="utf-8")
    return ConnectorSpec.model_validate_json(text)


@cache
def _adapter(kind: Any) -> TypeAdapter[Any]:
    return TypeAdapter(kind)


def _problems(
    exc: ValidationError, cls: type[PatchbayError], what: str, pointer_root: str = ""
) -> PatchbayError:
    """A pydantic error as a Patchbay one, naming places and rules but never the input values
    (pydantic's own text quotes them, and they may be anything the vendor or caller sent)."""
    errors = exc.errors(include_input=False, include_url=False, include_context=False)
    first = errors[0] if errors else None
    pointer = pointer_root + "".join(f"/{p}" for p in first["loc"]) if first else pointer_root
    detail = f": {first['msg']}" if first else ""
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return cls(f"{what}{detail}{more}", pointer=pointer, retryable=False)


def parse_as[T](kind: type[T] | Any, data: Any) -> T:
    """Validate ``data`` into ``kind``; a RootModel is unwrapped to its root value. A body the
    model rejects is a ``bad_response``."""
    if kind is Any:
        return data  # type: ignore[no-any-return]
    try:
        if isinstance(kind, type) and issubclass(kind, RootModel):
            return kind.model_validate(data).root  # type: ignore[no-any-return]
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            return kind.model_validate(data)  # type: ignore[return-value]
        return _adapter(kind).validate_python(data)  # type: ignore[no-any-return]
    except ValidationError as exc:
        name = getattr(kind, "__name__", "the result type")
        error = _problems(exc, BadResponse, f"the response does not match {name}")
    raise error  # outside the ``except``: pydantic's error quotes the values


class NotGiven:
    """The default of every optional argument of a generated method: the field is not sent.

    ``None`` is a value (JSON ``null``) where the action's schema allows it, e.g. GitHub's
    ``update_issue(milestone=None)`` removes the milestone; ``NOT_GIVEN`` leaves it alone."""

    _instance: ClassVar[NotGiven | None] = None

    def __new__(cls) -> NotGiven:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "NOT_GIVEN"

    def __reduce__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: Final = NotGiven()

#: Keyword arguments of a generated method that are not fields of the action's input.
_CONTROL = frozenset({"self", "request_options", "max_pages", "max_items", "page_size"})


@dataclass(frozen=True, slots=True)
class Endpoint[T]:
    """One action as a generated method sees it: the input model, how to parse the result
    (``T`` is what the method returns) and keyword arguments renamed from their field."""

    action: str
    input: type[BaseModel]
    kind: Any
    renames: Mapping[str, str] = field(default_factory=dict)

    def build(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """A method's ``locals()`` -> the action's wire-named input dict.

        Shared by the sync and async clients. Arguments left at ``NOT_GIVEN`` are not sent;
        ``None`` given explicitly is sent as ``null`` (the executor's schema check refuses it
        where the vendor does not allow null)."""
        given = {
            self.renames.get(key, key): value
            for key, value in arguments.items()
            if key not in _CONTROL and value is not NOT_GIVEN
        }
        return dump_input(self.input, given)


def dump_input(model: type[BaseModel], values: Mapping[str, Any]) -> dict[str, Any]:
    """Python-named values (models or plain dicts inside) -> the action's wire-named input dict;
    only what was given is sent (``NOT_GIVEN`` values are dropped)."""
    given = {k: v for k, v in values.items() if v is not NOT_GIVEN}
    try:
        validated = model.model_validate(given)
    except ValidationError as exc:
        error = _problems(exc, ValidationFailed, "invalid input")
    else:
        return validated.model_dump(mode="json", by_alias=True, exclude_unset=True)
    raise error


class RequestOptions(TypedDict, total=False):
    """Per-call options of a generated method (``request_options={...}``); a
    :class:`~patchbay.runtime.http.CallOptions` is accepted as well."""

    timeout: float | httpx.Timeout
    """Seconds (or an ``httpx.Timeout``) for each HTTP request of this call."""
    retries: int
    """Retries of a retryable failure for this call (replaces the client's policy count)."""
    idempotency_key: str
    """Sent in the spec's idempotency header; makes a non-idempotent call safe to retry."""
    extra_headers: Mapping[str, str]
    """Headers added to every request of this call."""
    deadline: float
    """Seconds the whole call (all its retries and waits) may take."""


_OPTION_KEYS: Final = frozenset(RequestOptions.__annotations__)


def call_options(options: RequestOptions | CallOptions | None) -> CallOptions:
    """``request_options`` as the executor takes it; anything else is a clear ``config``
    error rather than an ``AttributeError`` deep inside the executor."""
    if options is None:
        return _NO_OPTIONS
    if isinstance(options, CallOptions):
        return options
    if not isinstance(options, Mapping):
        raise ConfigError(
            "request_options must be a dict of RequestOptions or a CallOptions, "
            f"not {type(options).__name__}",
            retryable=False,
        )
    unknown = sorted(str(k) for k in options if k not in _OPTION_KEYS)
    if unknown:
        raise ConfigError(
            f"unknown request option(s) {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(sorted(_OPTION_KEYS))}",
            retryable=False,
        )
    return CallOptions(**options)


@dataclass(frozen=True, slots=True)
class RawResponse:
    """The HTTP response behind a call: status, headers and the decoded body."""

    status_code: int
    headers: httpx.Headers
    body: Any


class ResponseLog:
    """The raw responses of the calls made inside :meth:`ClientBase.raw_responses`."""

    def __init__(self) -> None:
        self.responses: list[RawResponse] = []

    @property
    def last(self) -> RawResponse:
        if not self.responses:
            raise ConfigError("no call has answered inside raw_responses() yet", retryable=False)
        return self.responses[-1]


_RAW_LOG: ContextVar[ResponseLog | None] = ContextVar("patchbay_raw_log", default=None)


@contextmanager
def _capture() -> Iterator[ResponseLog]:
    log = ResponseLog()
    token = _RAW_LOG.set(log)
    try:
        yield log
    finally:
        _RAW_LOG.reset(token)


def _result_flow(core: Any, plan: Any, parts: RequestParts, opts: CallOptions) -> Flow[Any]:
    """The executor's call flow, keeping the response for :meth:`raw_responses`."""
    response, body = yield from core.exchange(plan, parts, opts)
    log = _RAW_LOG.get()
    if log is not None:
        log.responses.append(RawResponse(response.status_code, response.headers, body))
    return get_path(body, plan.action.output.result_path, None)


class Credentials(BaseModel):
    """Base of the generated per-auth-variant credential classes; secrets are ``SecretStr``."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
    variant: ClassVar[str] = ""

    def values(self) -> dict[str, str]:
        """Credential values under the spec's field names."""
        out: dict[str, str] = {}
        for name, info in type(self).model_fields.items():
            value = getattr(self, name)
            if value is None or name == "token_provider":
                continue
            key = info.alias or name
            out[key] = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        return out


class Variables(BaseModel):
    """Base of the generated connection-variable classes."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class ClientOptions(TypedDict, total=False):
    """Keyword options every generated sync client accepts (the test seam is ``transport``)."""

    transport: httpx.BaseTransport | None
    client: httpx.Client | None
    base_url: str | None
    options: ExecutorOptions | None
    sleep: Callable[[float], None]


class AsyncClientOptions(TypedDict, total=False):
    transport: httpx.AsyncBaseTransport | None
    client: httpx.AsyncClient | None
    base_url: str | None
    options: ExecutorOptions | None
    sleep: Callable[[float], Awaitable[None]]


class OAuth2Credentials(Credentials):
    """OAuth2 variants carry a token provider instead of static values."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, arbitrary_types_allowed=True
    )
    token_provider: TokenProvider


def _plain(value: Any) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else str(value)


def _connection(
    connector: str, credentials: Credentials, variables: BaseModel | Mapping[str, str] | None
) -> Connection:
    if isinstance(variables, BaseModel):
        variables = {
            (info.alias or name): _plain(getattr(variables, name))
            for name, info in type(variables).model_fields.items()
            if getattr(variables, name) is not None
        }
    provider = credentials.token_provider if isinstance(credentials, OAuth2Credentials) else None
    return Connection(
        connector,
        auth=credentials.variant,
        variables=dict(variables or {}),
        credentials=credentials.values(),
        token_provider=provider,
    )


class TypedPager[T]:
    """Items of a paginated action, validated into the generated model as they arrive."""

    def __init__(self, pager: Pager, kind: Any) -> None:
        self._pager = pager
        self._kind = kind

    def __iter__(self) -> Iterator[T]:
        kind = self._kind
        for item in self._pager:
            yield parse_as(kind, item)

    def pages(self) -> Iterator[Page]:
        """Whole pages, untyped (the raw body is there for vendor extras)."""
        return self._pager.pages()

    def all(self) -> list[T]:
        return list(self)


class AsyncTypedPager[T]:
    def __init__(self, pager: AsyncPager, kind: Any) -> None:
        self._pager = pager
        self._kind = kind

    async def __aiter__(self) -> AsyncIterator[T]:
        kind = self._kind
        async for item in self._pager:
            yield parse_as(kind, item)

    def pages(self) -> AsyncIterator[Page]:
        return self._pager.pages()

    async def all(self) -> list[T]:
        return [item async for item in self]


class ClientBase:
    """What every generated synchronous client shares."""

    package: ClassVar[str] = ""

    def __init__(
        self,
        credentials: Credentials,
        *,
        variables: BaseModel | Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        client: httpx.Client | None = None,
        base_url: str | None = None,
        options: ExecutorOptions | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        spec = packaged_spec(self.package)
        self.executor = GenericExecutor(
            spec,
            _connection(spec.name, credentials, variables),
            transport=transport,
            client=client,
            base_url=base_url,
            options=options,
            sleep=sleep,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.executor.core.connection!r})"

    def call(
        self, action: str, data: Mapping[str, Any] | None = None, options: CallOptions = _NO_OPTIONS
    ) -> Any:
        """Call any action by name with a plain dict (the untyped escape hatch)."""
        return self.executor.call(action, data, options)

    def test_connection(self) -> ConnectionCheck:
        return self.executor.test_connection()

    def raw_responses(self) -> AbstractContextManager[ResponseLog]:
        """Collect the HTTP status, headers and body of every call made inside the block:
        ``with client.raw_responses() as raw: ...; raw.last.headers["request-id"]``."""
        return _capture()

    def _call[T](
        self,
        endpoint: Endpoint[T],
        arguments: Mapping[str, Any],
        *,
        options: RequestOptions | CallOptions | None = None,
    ) -> T:
        data = endpoint.build(arguments)
        opts = call_options(options)
        executor = self.executor
        core = executor.core
        try:
            plan, parts = core.prepare(endpoint.action, data, opts)
            flow = _result_flow(core, plan, parts, opts)
            body = executor.drive(flow)
        except Exception as exc:
            error = core.surface(exc, endpoint.action)
        else:
            return cast(T, parse_as(endpoint.kind, body))
        raise error  # outside the ``except``: the original is not attached

    def _paginate[T](
        self,
        endpoint: Endpoint[T],
        arguments: Mapping[str, Any],
        *,
        options: RequestOptions | CallOptions | None = None,
        max_pages: int | None = None,
        max_items: int | None = None,
        page_size: int | None = None,
    ) -> TypedPager[T]:
        pager = self.executor.paginate(
            endpoint.action,
            endpoint.build(arguments),
            call_options(options),
            max_pages=max_pages,
            max_items=max_items,
            page_size=page_size,
        )
        return TypedPager(pager, endpoint.kind)

    def close(self) -> None:
        self.executor.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClientBase:
    """What every generated asynchronous client shares."""

    package: ClassVar[str] = ""

    def __init__(
        self,
        credentials: Credentials,
        *,
        variables: BaseModel | Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        client: httpx.AsyncClient | None = None,
        base_url: str | None = None,
        options: ExecutorOptions | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        spec = packaged_spec(self.package)
        self.executor = AsyncGenericExecutor(
            spec,
            _connection(spec.name, credentials, variables),
            transport=transport,
            client=client,
            base_url=base_url,
            options=options,
            sleep=sleep,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.executor.core.connection!r})"

    async def call(
        self, action: str, data: Mapping[str, Any] | None = None, options: CallOptions = _NO_OPTIONS
    ) -> Any:
        return await self.executor.call(action, data, options)

    async def test_connection(self) -> ConnectionCheck:
        return await self.executor.test_connection()

    def raw_responses(self) -> AbstractContextManager[ResponseLog]:
        """As :meth:`ClientBase.raw_responses` (the log follows the asyncio task)."""
        return _capture()

    async def _call[T](
        self,
        endpoint: Endpoint[T],
        arguments: Mapping[str, Any],
        *,
        options: RequestOptions | CallOptions | None = None,
    ) -> T:
        data = endpoint.build(arguments)
        opts = call_options(options)
        executor = self.executor
        core = executor.core
        try:
            plan, parts = core.prepare(endpoint.action, data, opts)
            flow = _result_flow(core, plan, parts, opts)
            body = await executor.drive(flow)
        except Exception as exc:
            error = core.surface(exc, endpoint.action)
        else:
            return cast(T, parse_as(endpoint.kind, body))
        raise error

    def _paginate[T](
        self,
        endpoint: Endpoint[T],
        arguments: Mapping[str, Any],
        *,
        options: RequestOptions | CallOptions | None = None,
        max_pages: int | None = None,
        max_items: int | None = None,
        page_size: int | None = None,
    ) -> AsyncTypedPager[T]:
        pager = self.executor.paginate(
            endpoint.action,
            endpoint.build(arguments),
            call_options(options),
            max_pages=max_pages,
            max_items=max_items,
            page_size=page_size,
        )
        return AsyncTypedPager(pager, endpoint.kind)

    async def aclose(self) -> None:
        await self.executor.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
