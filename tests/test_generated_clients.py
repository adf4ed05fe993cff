"""The generated Stripe, GitHub and Slack clients end to end against the vendor stand-ins.

Every call goes generated method -> GenericExecutor -> stand-in transport, so these prove the
facade adds typing without a second HTTP path.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from conftest import FakeSleep
from pydantic import SecretStr

from patchbay.connectors.github import GithubClient, GithubTokenCredentials
from patchbay.connectors.github import models as gh
from patchbay.connectors.slack import AsyncSlackClient, SlackBotTokenCredentials, SlackClient
from patchbay.connectors.slack import models as sl
from patchbay.connectors.slack.triggers import SlackEventsApiEvents, poll_new_message
from patchbay.connectors.stripe import (
    AsyncStripeClient,
    StripeApiKeyCredentials,
    StripeClient,
)
from patchbay.connectors.stripe import models as st
from patchbay.connectors.stripe.triggers import StripeEventsEvents, apoll_new_event, poll_new_event
from patchbay.mocks.oracles import github as github_standin
from patchbay.mocks.oracles import slack as slack_standin
from patchbay.mocks.oracles import stripe as stripe_standin
from patchbay.runtime import CallOptions, PatchbayError

STRIPE_KEY = StripeApiKeyCredentials(api_key=SecretStr(stripe_standin.DEMO_KEY))


def test_stripe_sync_pages_creates_and_maps_errors() -> None:
    standin = stripe_standin.make_standin(25)
    client = StripeClient(STRIPE_KEY, transport=standin.transport(), sleep=FakeSleep())
    customers = list(client.list_customers(limit=10))
    assert len(customers) == 25 and all(isinstance(c, st.Customer) for c in customers)
    assert len([r for r in standin.requests if r.url.path == "/v1/customers"]) == 3
    created = client.create_customer(
        email="jo@example.test",
        metadata={"plan": "gold"},
        request_options=CallOptions(idempotency_key="idem-FAKE-7"),
    )
    assert isinstance(created, st.Customer) and created.email == "jo@example.test"
    sent = standin.requests[-1]
    assert sent.method == "POST" and sent.headers["idempotency-key"] == "idem-FAKE-7"
    assert b"metadata%5Bplan%5D=gold" in sent.content
    fetched = client.get_customer(customer=created.id)
    assert fetched.id == created.id
    with pytest.raises(PatchbayError) as info:
        client.get_customer(customer="cus_missing")
    assert info.value.code == "not_found" and info.value.status == 404
    assert client.test_connection().ok
    assert "sk_test" not in repr(client) and "sk_test" not in repr(STRIPE_KEY)


def test_stripe_async_client_and_typed_poll() -> None:
    standin = stripe_standin.make_standin(5)

    async def run() -> tuple[int, int, int]:
        async with AsyncStripeClient(STRIPE_KEY, transport=standin.transport()) as client:
            items = [c async for c in client.list_customers(limit=2)]
            first = await apoll_new_event(client, max_items=100)
            await client.create_customer(email="new@example.test")
            second = await apoll_new_event(client, first.cursor)
            assert all(isinstance(e, st.Event) for e in second.items)
            return len(items), len(first.items), len(second.items)

    customers, initial, fresh = asyncio.run(run())
    assert customers == 5 and initial >= 5
    assert fresh == 1


def test_stripe_sync_poll_sends_the_cursor_as_created_gt() -> None:
    standin = stripe_standin.make_standin(3)
    client = StripeClient(STRIPE_KEY, transport=standin.transport())
    first = poll_new_event(client)
    assert first.cursor is not None and len(first.items) >= 3
    client.create_customer(email="later@example.test")
    second = poll_new_event(client, first.cursor)
    assert [e.type for e in second.items] == ["customer.created"]
    assert standin.requests[-1].url.params["created[gt]"] == str(first.cursor)
    assert poll_new_event(client, second.cursor).items == []


def test_github_link_paging_and_typed_errors() -> None:
    standin = github_standin.make_standin(12)
    client = GithubClient(
        GithubTokenCredentials(token=SecretStr(github_standin.DEMO_TOKEN)),
        transport=standin.transport(),
    )
    pages = list(
        client.list_issues(owner="octocat", repo="hello-world", state="all", per_page=5).pages()
    )
    assert len(pages) >= 3
    issues = list(client.list_issues(owner="octocat", repo="hello-world", state="all", per_page=5))
    assert issues and all(isinstance(i, gh.Issue) for i in issues)
    created = client.create_issue(
        owner="octocat", repo="hello-world", title="Typed", labels=["bug"]
    )
    assert isinstance(created, gh.Issue) and created.title == "Typed"
    assert json.loads(standin.requests[-1].content) == {"title": "Typed", "labels": ["bug"]}
    with pytest.raises(PatchbayError) as info:
        client.get_issue(owner="octocat", repo="hello-world", issue_number=999_999)
    assert info.value.code == "not_found"


def test_slack_sync_async_and_event_router() -> None:
    standin = slack_standin.make_standin(12)
    creds = SlackBotTokenCredentials(
        bot_token=SecretStr(slack_standin.DEMO["credentials"]["bot_token"])
    )
    client = SlackClient(creds, transport=standin.transport())
    channels = list(client.list_conversations(limit=5))
    assert len(channels) == 12 and all(isinstance(c, sl.Conversation) for c in channels)
    channel = channels[0].id
    posted = client.post_message(channel=channel, text="hello from a typed client")
    assert posted is not None
    batch = poll_new_message(client, params={"channel": channel})
    assert any(m.text == "hello from a typed client" for m in batch.items)
    assert batch.cursor is not None

    async def run() -> int:
        async with AsyncSlackClient(creds, transport=standin.transport()) as aclient:
            return len([c async for c in aclient.list_conversations(limit=4)])

    assert asyncio.run(run()) == 12
    router = SlackEventsApiEvents()
    seen: list[sl.EventCallback] = []

    @router.on("message")
    def handle(event: sl.EventCallback) -> None:
        seen.append(event)

    payload = {
        "type": "event_callback",
        "team_id": "T0FAKE",
        "api_app_id": "A0FAKE",
        "event_id": "Ev0FAKE",
        "event_time": 1_700_000_000,
        "event": {
            "type": "message",
            "channel": channel,
            "user": "U0FAKE",
            "text": "hi",
            "ts": "1700000000.000100",
        },
    }
    assert router.dispatch(payload) == 1
    assert isinstance(seen[0], sl.EventCallback)
    assert router.dispatch({**payload, "event": {"type": "reaction_added"}}) == 0


def test_stripe_event_router_types_events_by_type() -> None:
    router = StripeEventsEvents()
    got: list[object] = []
    router.on("customer.created")(got.append)
    router.on("*")(got.append)
    event = {
        "id": "evt_FAKE",
        "object": "event",
        "type": "customer.created",
        "created": 1_700_000_000,
        "livemode": False,
        "api_version": "2024-06-20",
        "pending_webhooks": 0,
        "data": {"object": {"id": "cus_FAKE", "object": "customer"}},
    }
    assert router.dispatch(event) == 2
    assert got[0] is not event and type(got[0]).__name__ == "Event"


def test_github_async_client_follows_link_pages() -> None:
    from patchbay.connectors.github import AsyncGithubClient

    standin = github_standin.make_standin(12)
    creds = GithubTokenCredentials(token=SecretStr(github_standin.DEMO_TOKEN))

    async def run() -> tuple[int, int, str]:
        async with AsyncGithubClient(creds, transport=standin.transport()) as client:
            pager = client.list_issues(owner="octocat", repo="hello-world", state="all", per_page=5)
            pages = [page async for page in pager.pages()]
            user = await client.get_authenticated_user()
            return len(pages), sum(len(p.items) for p in pages), user.login

    pages, items, login = asyncio.run(run())
    assert pages >= 3 and items >= 12 and login == "octocat"
    assert all(
        r.headers["authorization"] == f"Bearer {github_standin.DEMO_TOKEN}"
        for r in standin.requests
    )
