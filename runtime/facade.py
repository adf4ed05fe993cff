"""The base of generated clients: a typed facade over the GenericExecutor.

Generated methods only turn keyword arguments into the action's input dict and the result into
models; every request still goes through :class:`~runtime.executor.GenericExecutor`, so there is
exactly one HTTP path whether an action is called by name or through a generated method.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from functools import cache
from importlib import resources
from typing import Any, ClassVar, Self, TypedDict

import httpx
from patchbay.runtime.connection import Connection, TokenProvider
from patchbay.runtime.errors import BadResponse, PatchbayError, ValidationFailed
from patchbay.runtime.executor import (
    AsyncGenericExecutor,
    AsyncPager,
    CallOptions,
    ConnectionCheck,
    ExecutorOptions,
    GenericExecutor,
    Page,
    Pager,
)
from patchbay.runtime.spec import ConnectorSpec
from pydantic import BaseModel, ConfigDict, RootModel, SecretStr, TypeAdapter, ValidationError

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


def dump_input(model: type[BaseModel], values: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments -> the action's wire-named input dict (``None`` means 'not given')."""
    given = {k: v for k, v in values.items() if v is not None}
    try:
        validated = model.model_validate(given)
    except ValidationError as exc:
        error = _problems(exc, ValidationFailed, "invalid input")
    else:
        return validated.model_dump(mode="json", by_alias=True, exclude_none=True)
    raise error


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

    def _call(
        self, action: str, data: dict[str, Any], kind: Any, options: CallOptions | None
    ) -> Any:
        return parse_as(kind, self.executor.call(action, data, options or _NO_OPTIONS))

    def _paginate(
        self,
        action: str,
        data: dict[str, Any],
        kind: Any,
        options: CallOptions | None,
        max_pages: int | None,
        max_items: int | None,
        page_size: int | None,
    ) -> TypedPager[Any]:
        pager = self.executor.paginate(
            action,
            data,
            options or _NO_OPTIONS,
            max_pages=max_pages,
            max_items=max_items,
            page_size=page_size,
        )
        return TypedPager(pager, kind)

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

    async def _call(
        self, action: str, data: dict[str, Any], kind: Any, options: CallOptions | None
    ) -> Any:
        return parse_as(kind, await self.executor.call(action, data, options or _NO_OPTIONS))

    def _paginate(
        self,
        action: str,
        data: dict[str, Any],
        kind: Any,
        options: CallOptions | None,
        max_pages: int | None,
        max_items: int | None,
        page_size: int | None,
    ) -> AsyncTypedPager[Any]:
        pager = self.executor.paginate(
            action,
            data,
            options or _NO_OPTIONS,
            max_pages=max_pages,
            max_items=max_items,
            page_size=page_size,
        )
        return AsyncTypedPager(pager, kind)

    async def aclose(self) -> None:
        await self.executor.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
