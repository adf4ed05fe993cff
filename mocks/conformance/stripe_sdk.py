"""Stripe's official Python SDK (``stripe``) through a customer's life against the mock.

Configured only as its docs allow: ``StripeClient(api_key, base_addresses={"api": ...})``.
"""

from __future__ import annotations

from typing import Any

from patchbay.mocks.conformance.steps import Steps, bounded, equal


def run(base: str, credentials: dict[str, str]) -> Steps:
    """``base``: where the mock serves Stripe (the SDK adds ``/v1/...`` itself)."""
    import stripe

    steps = Steps("stripe")
    client = stripe.StripeClient(
        credentials.get("api_key", "sk_test_conformance"),
        base_addresses={"api": base},
        max_network_retries=0,
    )
    customers = client.v1.customers
    made = steps.check(
        "customers.create",
        lambda: customers.create(params={"email": "sdk@example.test", "name": "SDK"}),
        lambda c: None if c.id.startswith("cus_") and c.email == "sdk@example.test" else repr(c),
    )
    cid: str = made.id if made is not None else "cus_missing"
    steps.check(
        "customers.create (same idempotency key)",
        lambda: (
            customers.create(
                params={"email": "twice@example.test"}, options={"idempotency_key": "conf-1"}
            ).id
            == customers.create(
                params={"email": "twice@example.test"}, options={"idempotency_key": "conf-1"}
            ).id
        ),
        equal(True),
    )
    steps.raises(
        "customers.create (key reused, other body)",
        lambda: customers.create(
            params={"email": "other@example.test"}, options={"idempotency_key": "conf-1"}
        ),
        stripe.IdempotencyError,
    )
    steps.check(
        "customers.retrieve", lambda: customers.retrieve(cid).email, equal("sdk@example.test")
    )
    steps.check(
        "customers.update",
        lambda: customers.update(cid, params={"name": "Renamed"}).name,
        equal("Renamed"),
    )
    steps.check(
        "customers.list auto_paging_iter (limit 2)",
        lambda: _pages(customers.list(params={"limit": 2})),
        lambda r: (
            None if r[0] >= 3 and cid in r[1] else f"{r[0]} pages, created id listed: {cid in r[1]}"
        ),
    )
    steps.check(
        "customers.list email filter",
        lambda: [c.email for c in customers.list(params={"email": "sdk@example.test"}).data],
        equal(["sdk@example.test"]),
    )
    steps.check("customers.delete", lambda: customers.delete(cid).deleted, equal(True))
    steps.raises(
        "customers.retrieve (deleted)", lambda: customers.retrieve(cid), stripe.InvalidRequestError
    )
    steps.raises(
        "customers.retrieve (unknown id)",
        lambda: customers.retrieve("cus_doesnotexist"),
        stripe.InvalidRequestError,
    )
    first = steps.check(
        "payment_intents.create",
        lambda: client.v1.payment_intents.create(params={"amount": 2000, "currency": "usd"}),
        lambda p: (
            None
            if (p.amount, p.currency, p.status) == (2000, "usd", "requires_payment_method")
            else f"amount={p.amount} currency={p.currency} status={p.status}"
        ),
    )
    steps.check(
        "payment_intents.create (fresh id)",
        lambda: client.v1.payment_intents.create(params={"amount": 5, "currency": "eur"}).id,
        lambda i: None if first is not None and i != first.id and i.startswith("pi_") else i,
    )
    intent = first.id if first is not None else "pi_missing"
    steps.check(
        "payment_intents.retrieve",
        lambda: client.v1.payment_intents.retrieve(intent).amount,
        equal(2000),
    )
    steps.check(
        "payment_intents.confirm (pm_card_visa)",
        lambda: (
            client.v1.payment_intents.confirm(
                intent, params={"payment_method": "pm_card_visa"}
            ).status
        ),
        equal("succeeded"),
    )
    steps.check(
        "customers.search",
        lambda: client.v1.customers.search(params={"query": "email:'jo@example.test'"})["object"],
        equal("search_result"),
    )
    bad = stripe.StripeClient("not-a-key", base_addresses={"api": base}, max_network_retries=0)
    steps.raises("bad API key", lambda: bad.v1.customers.list(), stripe.AuthenticationError)
    return steps


def _pages(listing: Any) -> tuple[int, list[str]]:
    """(pages fetched, ids seen) walking the SDK's own auto-pager."""
    ids = [c.id for c in bounded(listing.auto_paging_iter())]
    pages = -(-len(ids) // 2)
    return pages, ids
