"""HubSpot's official Python SDK (``hubspot-api-client``) against the mock.

Configured only as it allows: ``HubSpot(access_token=..., host=...)`` (every keyword is set on
the generated client's Configuration, ``host`` included). It calls the v3 object paths.
"""

from __future__ import annotations

from typing import Any

from patchbay.mocks.conformance.steps import Steps, bounded, equal

TOKEN = "pat-na1-conformance-FAKE"  # any private app token of HubSpot's shape


def run(base: str, credentials: dict[str, str]) -> Steps:
    """``base``: where the mock serves HubSpot's API origin."""
    from hubspot import HubSpot
    from hubspot.crm.contacts import (
        SimplePublicObjectInput,
        SimplePublicObjectInputForCreate,
    )
    from hubspot.crm.contacts.exceptions import NotFoundException, UnauthorizedException

    steps = Steps("hubspot")
    api = HubSpot(access_token=TOKEN, host=base).crm.contacts
    made = steps.check(
        "basic_api.create",
        lambda: api.basic_api.create(
            SimplePublicObjectInputForCreate(properties={"email": "sdk@example.test"})
        ),
        lambda c: (
            None
            if c is not None and c.id and c.properties.get("email") == "sdk@example.test"
            else repr(c)
        ),
    )
    cid = made.id if made is not None else "1"
    steps.check(
        "basic_api.get_by_id",
        lambda: api.basic_api.get_by_id(cid).properties.get("email"),
        equal("sdk@example.test"),
    )
    steps.check(
        "basic_api.update",
        lambda: api.basic_api.update(
            cid, SimplePublicObjectInput(properties={"firstname": "Jo"})
        ).properties.get("firstname"),
        equal("Jo"),
    )
    steps.check(
        "basic_api.get_page paging (limit 2)",
        lambda: _pages(api.basic_api),
        lambda r: (
            None if r[0] >= 3 and cid in r[1] else f"{r[0]} pages, created listed: {cid in r[1]}"
        ),
    )
    steps.check(
        "get_all (the SDK's own pager)",
        lambda: [c.id for c in bounded(api.get_all())],
        lambda ids: None if cid in ids and len(ids) >= 5 else f"{len(ids)} contacts",
    )
    steps.check("basic_api.archive", lambda: api.basic_api.archive(cid), equal(None))
    steps.raises("get_by_id (archived)", lambda: api.basic_api.get_by_id(cid), NotFoundException)
    steps.raises(
        "get_by_id (unknown id)", lambda: api.basic_api.get_by_id("987654321"), NotFoundException
    )
    bad = HubSpot(access_token="not-a-token", host=base).crm.contacts
    steps.raises("bad token", lambda: bad.basic_api.get_page(limit=1), UnauthorizedException)
    return steps


def _pages(basic: Any) -> tuple[int, list[str]]:
    pages, ids, after = 0, [], None
    while True:
        page = basic.get_page(limit=2, after=after)
        pages += 1
        ids += [c.id for c in page.results]
        bounded(ids)
        if page.paging is None or page.paging.next is None:
            return pages, ids
        after = page.paging.next.after
