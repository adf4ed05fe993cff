"""A recorded page answers only the page it was recorded for.

Fixture matching is a subset match (the request may carry more than the fixture names), so without
a rule a recorded first page (no cursor) would also answer the request for page two, and an SDK's
auto-pager, told ``has_more`` every time, would walk forever. The cursor, offset and page
parameters a spec's pagination declares must therefore be equal (or absent on both sides).
"""

from __future__ import annotations

from pathlib import Path

import httpx

from patchbay.mocks.golden import load_fixture
from patchbay.mocks.server import MockOptions, MockServer, default_credentials
from patchbay.runtime.spec._registry import SpecRegistry

ROOT = Path(__file__).resolve().parent.parent
SPEC = SpecRegistry(ROOT / "specs").get("stripe")
RECORDED = ROOT / "golden" / "stripe" / "list_customers"


def _served(*names: str) -> tuple[MockServer, httpx.Client]:
    fixtures = [load_fixture(RECORDED / n) for n in names]
    server = MockServer(
        SPEC,
        MockOptions(fixtures={"list_customers": fixtures}, golden_root=None, records=5),
    )
    key = default_credentials(SPEC)["api_key"]
    client = httpx.Client(
        transport=server.transport(),
        base_url="https://api.stripe.com",
        headers={"Authorization": f"Bearer {key}"},
    )
    return server, client


def test_the_recorded_first_page_answers_the_first_page() -> None:
    first = load_fixture(RECORDED / "recorded-1.json")
    server, client = _served("recorded-1.json")
    with client:
        body = client.get("/v1/customers", params={"limit": 2}).json()
    assert server.fixture_hits == 1 and body == first.response.body


def test_the_recorded_first_page_never_answers_a_later_cursor() -> None:
    first = load_fixture(RECORDED / "recorded-1.json")
    cursor = first.response.body["data"][-1]["id"]
    server, client = _served("recorded-1.json")
    with client:
        reply = client.get("/v1/customers", params={"limit": 2, "starting_after": cursor})
    # Answered from the mock's own state instead, as a later page.
    assert reply.status_code == 200
    assert server.fixture_hits == 0


def test_a_recorded_later_page_answers_its_own_cursor_only() -> None:
    second = load_fixture(RECORDED / "recorded-2.json")
    cursor = second.request.query["starting_after"][0]
    server, client = _served("recorded-1.json", "recorded-2.json")
    with client:
        reply = client.get("/v1/customers", params={"limit": 2, "starting_after": cursor})
        assert server.fixture_hits == 1 and reply.json() == second.response.body
        client.get("/v1/customers", params={"limit": 2, "starting_after": "cus_other"})
    assert server.fixture_hits == 1
