"""A served mock's fixture answers point at the mock, not at the vendor.

Golden fixtures keep the URLs they were recorded or documented with: the vendor's origin, or the
synthesized ``https://example.test`` a recording against a mock keeps. A live client (an SDK's
auto-pager) reaching ``mock serve`` at its own loopback address follows those URLs, so served
answers must move them to the mock's origin and mount; a client that addresses the vendor's own
origin through an in-process transport gets the answer exactly as recorded.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from patchbay.mocks.golden import Fixture, FixtureRequest, FixtureResponse, load_fixture
from patchbay.mocks.loopback import serve
from patchbay.mocks.server import MockOptions, MockServer, MountedMocks, default_credentials
from patchbay.runtime.spec import SpecRegistry

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = SpecRegistry(ROOT / "specs")
STRIPE = REGISTRY.get("stripe")
KEY = default_credentials(STRIPE)["api_key"]


def _stripe_fixture(body: dict[str, str], headers: dict[str, str]) -> Fixture:
    """A fixture shaped as a vendor answer with URLs in it (test input, not a golden file)."""
    return Fixture(
        description="customer with URLs",
        source="documented",
        request=FixtureRequest(method="GET", path="/v1/customers/cus_1"),
        response=FixtureResponse(status=200, headers=headers, body=body),
    )


@pytest.fixture
def stripe_served() -> Iterator[tuple[str, MockServer]]:
    body = {
        "id": "cus_1",
        "object": "customer",
        "url": "https://api.stripe.com/v1/customers/cus_1",
        "synthesized": "https://example.test/r/7",
        "elsewhere": "https://files.stripe.com/v1/files/f_1",
        "lookalike": "https://api.stripe.com.attacker.test/x",
    }
    headers = {
        "Link": '<https://api.stripe.com/v1/customers?page=2>; rel="next"',
        "Content-Length": "999",
    }
    server = MockServer(
        STRIPE,
        MockOptions(
            fixtures={"get_customer": [_stripe_fixture(body, headers)]},
            golden_root=None,
            mount="/stripe",
        ),
    )
    with serve(MountedMocks([server])) as origin:
        yield origin, server


def test_served_fixture_urls_point_at_the_mock_and_nothing_else_moves(
    stripe_served: tuple[str, MockServer],
) -> None:
    origin, server = stripe_served
    here = origin + "/stripe"
    reply = httpx.get(f"{here}/v1/customers/cus_1", headers={"Authorization": f"Bearer {KEY}"})
    assert reply.status_code == 200 and server.fixture_hits == 1
    body = reply.json()
    assert body["url"] == f"{here}/v1/customers/cus_1"
    assert body["synthesized"] == f"{here}/r/7"
    # Another host of the vendor, and a host that merely starts like the vendor's, stay.
    assert body["elsewhere"] == "https://files.stripe.com/v1/files/f_1"
    assert body["lookalike"] == "https://api.stripe.com.attacker.test/x"
    assert reply.headers["Link"] == f'<{here}/v1/customers?page=2>; rel="next"'
    # The recorded length no longer holds; the server states the real one.
    assert int(reply.headers["Content-Length"]) == len(reply.content)


def test_an_in_process_client_at_the_vendor_origin_gets_the_answer_as_recorded() -> None:
    fixture = _stripe_fixture({"url": "https://api.stripe.com/v1/customers/cus_1"}, {})
    server = MockServer(STRIPE, MockOptions(fixtures={"get_customer": [fixture]}, golden_root=None))
    with httpx.Client(transport=server.transport(), base_url="https://api.stripe.com") as client:
        body = client.get("/v1/customers/cus_1", headers={"Authorization": f"Bearer {KEY}"}).json()
    assert body == {"url": "https://api.stripe.com/v1/customers/cus_1"}


def test_a_live_client_follows_a_recorded_next_link_and_stays_on_the_mock() -> None:
    spec = REGISTRY.get("zendesk")
    recorded = ROOT / "golden" / "zendesk" / "list_tickets"
    first = load_fixture(recorded / "recorded-1.json")
    creds = default_credentials(spec)
    server = MockServer(
        spec,
        MockOptions(
            fixtures={"list_tickets": [first]},
            golden_root=None,
            mount="/zendesk",
            variables={"subdomain": "acme"},
        ),
    )
    auth = (f"{creds['email']}/token", creds["api_token"])
    with serve(MountedMocks([server])) as origin, httpx.Client(auth=auth) as client:
        page = client.get(f"{origin}/zendesk/api/v2/tickets", params={"page[size]": 2})
        assert page.status_code == 200 and server.fixture_hits == 1
        next_url = page.json()["links"]["next"]
        assert next_url.startswith(f"{origin}/zendesk/api/v2/tickets?")
        following = client.get(next_url)
    assert following.status_code == 200, following.text
    assert following.json()["tickets"], "the second page came from the mock's own data"
