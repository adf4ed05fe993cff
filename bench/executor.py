"""Executor overhead against raw httpx on the same MockTransport, measured in one run.

    .venv/bin/python bench/executor.py [--calls 3000] [--items 10000] [--repeat 5]

Prints the best-of-N time per call (sync and async) and for paging 10k items, for raw httpx doing
the equivalent work by hand (build the request with auth and params, check the status, decode
JSON, follow the cursor) and for the GenericExecutor, and their ratio. The baseline is measured in
the same process with the same transport, so machine speed cancels out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from patchbay.runtime import AsyncGenericExecutor, Connection, GenericExecutor, parse_spec

KEY = "sk_test_FAKE_bench"
BASE = "https://api.bench.test/v1"
SPEC = parse_spec(
    {
        "name": "bench",
        "title": "Bench",
        "version": "1.0.0",
        "connection": {"base_url": BASE},
        "auth": [
            {"name": "key", "type": "bearer", "token": "{api_key}", "fields": {"api_key": {}}}
        ],
        "test_connection": {"path": "/account"},
        "actions": [
            {
                "name": "get_customer",
                "method": "GET",
                "path": "/customers/{id}",
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
                    {"name": "expand", "in": "query", "schema": {"type": "string"}},
                ],
                "output": {"schema": {"type": "object"}},
            },
            {
                "name": "list_customers",
                "method": "GET",
                "path": "/customers",
                "output": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "data": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "properties": {"id": {"type": "string"}},
                                },
                            },
                            "has_more": {"type": "boolean"},
                        },
                    }
                },
                "pagination": {
                    "style": "cursor",
                    "items_path": "data",
                    "cursor_param": "starting_after",
                    "cursor_from_last_item": "id",
                    "has_more_path": "has_more",
                    "page_size": {"param": "limit", "max": 100},
                },
            },
        ],
    }
)


def make_handler(items: int) -> Callable[[httpx.Request], httpx.Response]:
    records = [
        {"id": f"cus_{i:06d}", "object": "customer", "email": f"c{i}@example.test"}
        for i in range(items)
    ]
    index = {r["id"]: i for i, r in enumerate(records)}
    one = json.dumps(records[0]).encode()
    headers = {"Content-Type": "application/json"}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/customers":
            after = request.url.params.get("starting_after")
            limit = int(request.url.params.get("limit", 10))
            start = 0 if after is None else index[after] + 1
            page = records[start : start + limit]
            body = {"object": "list", "data": page, "has_more": start + limit < len(records)}
            return httpx.Response(200, content=json.dumps(body).encode(), headers=headers)
        return httpx.Response(200, content=one, headers=headers)

    return handler


def best(fn: Callable[[], None], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


async def abest(fn: Callable[[], Awaitable[None]], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - start)
    return min(times)


def raw_get(client: httpx.Client) -> Any:
    response = client.get(
        f"{BASE}/customers/cus_000001",
        params={"expand": "sources"},
        headers={"Authorization": f"Bearer {KEY}"},
    )
    response.raise_for_status()
    return response.json()


def raw_paging(client: httpx.Client) -> list[Any]:
    out: list[Any] = []
    params: dict[str, str] = {"limit": "100"}
    while True:
        response = client.get(
            f"{BASE}/customers", params=params, headers={"Authorization": f"Bearer {KEY}"}
        )
        response.raise_for_status()
        body = response.json()
        out += body["data"]
        if not body["has_more"] or not body["data"]:
            return out
        params = {"limit": "100", "starting_after": body["data"][-1]["id"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    handler = make_handler(args.items)
    transport = httpx.MockTransport(handler)
    connection = Connection("bench", credentials={"api_key": KEY})
    client = httpx.Client(transport=transport)
    executor = GenericExecutor(SPEC, connection, transport=transport)
    data = {"id": "cus_000001", "expand": "sources"}
    assert executor.call("get_customer", data) == raw_get(client)
    assert executor.paginate("list_customers", page_size=100).all() == raw_paging(client)

    def raw_calls() -> None:
        for _ in range(args.calls):
            raw_get(client)

    def ex_calls() -> None:
        for _ in range(args.calls):
            executor.call("get_customer", data)

    def raw_paging_once() -> None:
        raw_paging(client)

    def ex_paging_once() -> None:
        executor.paginate("list_customers", page_size=100).all()

    rows: list[tuple[str, float, float]] = []
    # Interleave the two measurements so drift in machine load hits both equally.
    raw_t, ex_t = [], []
    for _ in range(args.repeat):
        raw_t.append(best(raw_calls, 1))
        ex_t.append(best(ex_calls, 1))
    rows.append(("sync call", min(raw_t) / args.calls, min(ex_t) / args.calls))

    raw_p, ex_p = [], []
    for _ in range(args.repeat):
        raw_p.append(best(lambda: raw_paging_once(), 1))
        ex_p.append(best(lambda: ex_paging_once(), 1))
    rows.append((f"sync paging {args.items} items", min(raw_p), min(ex_p)))

    async def async_part() -> None:
        aclient = httpx.AsyncClient(transport=transport)
        aex = AsyncGenericExecutor(SPEC, connection, transport=transport)

        async def raw_acalls() -> None:
            for _ in range(args.calls):
                response = await aclient.get(
                    f"{BASE}/customers/cus_000001",
                    params={"expand": "sources"},
                    headers={"Authorization": f"Bearer {KEY}"},
                )
                response.raise_for_status()
                response.json()

        async def ex_acalls() -> None:
            for _ in range(args.calls):
                await aex.call("get_customer", data)

        raw_a, ex_a = [], []
        for _ in range(args.repeat):
            raw_a.append(await abest(raw_acalls, 1))
            ex_a.append(await abest(ex_acalls, 1))
        rows.append(("async call", min(raw_a) / args.calls, min(ex_a) / args.calls))
        await aclient.aclose()
        await aex.aclose()

    asyncio.run(async_part())
    print(f"{'measure':<26} {'raw httpx':>12} {'executor':>12} {'ratio':>7}")
    for name, raw, ex in rows:
        unit, scale = ("us", 1e6) if "call" in name else ("ms", 1e3)
        print(f"{name:<26} {raw * scale:>9.1f} {unit} {ex * scale:>9.1f} {unit} {ex / raw:>6.2f}x")
    spread = statistics.pstdev(t / args.calls * 1e6 for t in raw_t)
    print(f"(best of {args.repeat}; raw sync per-call spread {spread:.1f} us)")


if __name__ == "__main__":
    main()
