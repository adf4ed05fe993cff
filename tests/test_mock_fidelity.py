"""The mock behaves like the vendor wherever the spec says how (its ``mock`` blocks): each test
drives one declared behaviour over the wire, as an SDK would, and fails without it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from patchbay.mocks.server import MockOptions, MockServer, default_credentials
from patchbay.runtime.spec._registry import SpecRegistry

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = SpecRegistry(ROOT / "specs")
STRIPE_KEY = {"Authorization": "Bearer sk_test_any_key_of_the_shape"}


def _client(name: str, base: str, headers: dict[str, str], **options: Any) -> httpx.Client:
    server = MockServer(
        REGISTRY.get(name),
        MockOptions(golden_root=None, records=5, shaped_credentials=True, **options),
    )
    return httpx.Client(transport=server.transport(), base_url=base, headers=headers)


def stripe() -> httpx.Client:
    return _client("stripe", "https://api.stripe.com/v1", STRIPE_KEY)


# ------------------------------------------------------------------------------------ auth


def test_credentials_of_the_declared_shape_are_accepted_others_get_the_vendor_error() -> None:
    with stripe() as ok:
        assert ok.get("/customers").status_code == 200
    strict = MockServer(REGISTRY.get("stripe"), MockOptions(golden_root=None))
    with httpx.Client(transport=strict.transport(), headers=STRIPE_KEY) as c:
        # Unless asked (as `mock serve` does), only the printed fakes pass.
        assert c.get("https://api.stripe.com/v1/customers").status_code == 401
    with _client("stripe", "https://api.stripe.com/v1", {"Authorization": "Bearer nope"}) as bad:
        reply = bad.get("/customers")
    assert reply.status_code == 401
    assert reply.json()["error"]["type"] == "invalid_request_error"
    assert "mock_" not in reply.text


def test_auth_is_checked_before_routing() -> None:
    with _client("stripe", "https://api.stripe.com/v1", {"Authorization": "Bearer nope"}) as bad:
        assert bad.get("/no_such_thing").status_code == 401
    with stripe() as ok:
        assert ok.get("/no_such_thing").status_code == 404


# ----------------------------------------------------------------------------- resources


def test_ids_are_fresh_of_the_vendor_pattern_and_never_reused_after_a_delete() -> None:
    with stripe() as c:
        first = c.post("/customers", data={"email": "a@example.test"}).json()["id"]
        assert c.delete(f"/customers/{first}").status_code == 200
        second = c.post("/customers", data={"email": "b@example.test"}).json()["id"]
        assert first != second
        assert all(re.fullmatch(r"cus_[0-9A-Za-z_]+", i) for i in (first, second))
        assert c.get(f"/customers/{first}").status_code == 404
        assert c.get(f"/customers/{second}").json()["email"] == "b@example.test"


def test_creates_echo_their_input_and_take_the_vendors_initial_values() -> None:
    with stripe() as c:
        one = c.post("/payment_intents", data={"amount": "2000", "currency": "usd"}).json()
        two = c.post("/payment_intents", data={"amount": "5", "currency": "eur"}).json()
    assert (one["amount"], one["currency"], one["status"]) == (
        2000,
        "usd",
        "requires_payment_method",
    )
    assert (two["amount"], two["currency"]) == (5, "eur")
    assert one["id"] != two["id"] and one["id"].startswith("pi_")


def test_an_unknown_id_gets_the_vendors_not_found_from_the_error_rules() -> None:
    with stripe() as c:
        reply = c.get("/customers/cus_doesnotexist")
        listed = c.get("/customers", params={"limit": 1}).json()["data"][0]["id"]
        assert c.get(f"/customers/{listed}").status_code == 200  # ids a list shows exist
    assert reply.status_code == 404
    error = reply.json()["error"]
    assert error["code"] == "resource_missing" and "cus_doesnotexist" in error["message"]


# ---------------------------------------------------------------------------------- lists


def test_a_list_carries_its_own_path_and_applies_declared_filters() -> None:
    with stripe() as c:
        c.post("/customers", data={"email": "wanted@example.test"})
        page = c.get("/customers", params={"email": "wanted@example.test"}).json()
        everything = c.get("/customers", params={"limit": 100}).json()
    assert page["url"] == "/v1/customers"
    assert [x["email"] for x in page["data"]] == ["wanted@example.test"]
    assert len(everything["data"]) == 6


# ---------------------------------------------------------------------------- idempotency


def test_a_repeated_idempotency_key_replays_and_another_body_conflicts() -> None:
    with stripe() as c:
        key = {"Idempotency-Key": "k-1"}
        first = c.post("/customers", data={"email": "x@example.test"}, headers=key)
        again = c.post("/customers", data={"email": "x@example.test"}, headers=key)
        other = c.post("/customers", data={"email": "y@example.test"}, headers=key)
        listed = c.get("/customers", params={"email": "x@example.test"}).json()["data"]
    assert first.json()["id"] == again.json()["id"] and len(listed) == 1
    assert other.status_code == 400
    assert other.json()["error"]["type"] == "idempotency_error"


@pytest.mark.parametrize("name", ["stripe"])
def test_errors_never_carry_made_up_codes(name: str) -> None:
    spec = REGISTRY.get(name)
    server = MockServer(spec, MockOptions(golden_root=None))
    for code, situation in [("auth_invalid", "auth_invalid"), ("not_found", "not_found")]:
        reply = server._error(code, "m", situation=situation, item_id="x")
        assert b"mock_" not in reply.content, (code, reply.content)


def test_the_kitchen_sink_uses_every_mock_field() -> None:
    from patchbay.runtime import load_spec
    from patchbay.runtime.spec._model import MockAction, MockAuth, MockError

    sink = load_spec(ROOT / "tests/data/kitchen_sink.json")
    used: set[str] = set()
    for action in sink.actions:
        used |= action.mock.model_fields_set if action.mock else set()
    assert used == set(MockAction.model_fields)
    assert any(v.mock and v.mock.model_fields_set == set(MockAuth.model_fields) for v in sink.auth)
    assert any(
        r.mock and r.mock.model_fields_set == set(MockError.model_fields) for r in sink.errors.rules
    )


# ---------------------------------------------------------------------------------- GitHub


def github(token: str = "token ghp_anyFAKE") -> httpx.Client:
    return _client("github", "https://api.github.com", {"Authorization": token})


def test_declared_header_prefixes_are_accepted_and_bad_tokens_get_the_vendor_message() -> None:
    with github("token ghp_anyFAKE") as c:
        assert c.get("/repos/o/r").status_code == 200
    with github("Bearer ghp_anyFAKE") as c:
        assert c.get("/repos/o/r").status_code == 200
    with github("token nope") as c:
        reply = c.get("/repos/o/r")
    assert reply.status_code == 401 and reply.json()["message"] == "Bad credentials"


def test_path_parameters_fill_the_fields_they_name_and_urls_point_at_the_mock() -> None:
    with github() as c:
        repo = c.get("/repos/octo-org/hello-world").json()
    assert repo["full_name"] == "octo-org/hello-world" and repo["owner"]["login"] == "octo-org"
    assert repo["url"] == "https://api.github.com/repos/octo-org/hello-world"


def test_creates_answer_201_expand_labels_and_start_open_deletes_answer_204() -> None:
    with github() as c:
        made = c.post("/repos/o/r/issues", json={"title": "T", "labels": ["bug"]})
        hook = c.post("/repos/o/r/hooks", json={"config": {"url": "https://example.test/h"}})
        gone = c.delete(f"/repos/o/r/hooks/{hook.json()['id']}")
    assert made.status_code == 201 and hook.status_code == 201
    issue = made.json()
    assert issue["state"] == "open" and issue["labels"][0]["name"] == "bug"
    assert isinstance(issue["labels"][0], dict) and "color" in issue["labels"][0]
    assert gone.status_code == 204 and gone.content == b""


def test_a_created_comment_keeps_its_body_and_is_listed() -> None:
    with github() as c:
        made = c.post("/repos/o/r/issues/1/comments", json={"body": "Looks good"}).json()
        listed = c.get("/repos/o/r/issues/1/comments", params={"per_page": 100}).json()
    assert made["body"] == "Looks good"
    assert [x["body"] for x in listed if x["id"] == made["id"]] == ["Looks good"]


def test_the_page_parameter_is_honoured_and_link_carries_the_vendors_relations() -> None:
    with github() as c:
        first = c.get("/repos/o/r/issues", params={"per_page": 2, "state": "all"})
        third = c.get("/repos/o/r/issues", params={"per_page": 2, "page": 3, "state": "all"})
    links = {rel: url for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', first.headers["Link"])}
    assert set(links) == {"next", "last"}
    assert "page=2" in links["next"] and "page=3" in links["last"]
    assert [i["number"] for i in first.json()] != [i["number"] for i in third.json()]
    assert len(third.json()) == 1  # 5 records, 2 a page
    rels = set(re.findall(r'rel="(\w+)"', third.headers["Link"]))
    assert rels == {"first", "prev"}


def test_declared_list_filters_apply_and_an_impossible_value_filters_nothing() -> None:
    with github() as c:
        closed = c.get("/repos/o/r/issues", params={"state": "closed", "per_page": 100}).json()
        every = c.get("/repos/o/r/issues", params={"state": "all", "per_page": 100}).json()
        default = c.get("/repos/o/r/issues", params={"per_page": 100}).json()
    assert {i["state"] for i in closed} <= {"closed"}
    assert len(every) == 5 and len(closed) < 5
    # No state asked: GitHub's documented default, open issues only.
    assert {i["state"] for i in default} <= {"open"}
    assert len(default) + len(closed) == len(every)


def test_an_unknown_issue_number_is_github_not_found() -> None:
    with github() as c:
        reply = c.get("/repos/o/r/issues/987654")
    assert reply.status_code == 404 and reply.json()["message"] == "Not Found"


# ----------------------------------------------------------------------------------- Slack


def slack(token: str = "xoxb-any-FAKE") -> httpx.Client:
    return _client("slack", "https://slack.com/api", {"Authorization": f"Bearer {token}"})


def test_every_slack_method_takes_get_or_post_with_query_form_or_json() -> None:
    with slack() as c:
        posted = c.post("/chat.postMessage", data={"channel": "C1", "text": "form"}).json()
        by_get = c.get("/chat.postMessage", params={"channel": "C1", "text": "query"}).json()
        form = c.post("/conversations.history", data={"channel": "C1", "limit": "100"}).json()
        as_json = c.post("/conversations.history", json={"channel": "C1", "limit": 100}).json()
        query = c.get("/conversations.history", params={"channel": "C1", "limit": 100}).json()
    assert posted["ok"] and posted["message"]["text"] == "form"
    assert by_get["ok"] and by_get["message"]["text"] == "query"
    for listed in (form, as_json, query):
        texts = [m["text"] for m in listed["messages"]]
        assert listed["ok"] and texts[:2] == ["query", "form"]


def test_a_wrong_slack_token_on_a_read_is_invalid_auth_not_a_routing_error() -> None:
    with slack("nope") as c:
        reply = c.post("/conversations.history", data={"channel": "C1"}).json()
        unknown = c.post("/no.such.method", data={}).json()
    assert reply == {"ok": False, "error": "invalid_auth"} == unknown


def test_an_unknown_slack_message_is_message_not_found() -> None:
    with slack() as c:
        reply = c.post("/chat.update", json={"channel": "C1", "ts": "1.999999", "text": "x"})
    assert reply.json() == {"ok": False, "error": "message_not_found"}


# ---------------------------------------------------------------------------------- Twilio

TWILIO_SID = "AC0123456789abcdef0123456789abcdef"


def twilio() -> httpx.Client:
    import base64

    token = default_credentials(REGISTRY.get("twilio"))["auth_token"]
    basic = base64.b64encode(f"{TWILIO_SID}:{token}".encode()).decode()
    return _client(
        "twilio",
        f"https://api.twilio.com/2010-04-01/Accounts/{TWILIO_SID}",
        {"Authorization": f"Basic {basic}"},
        variables={"account_sid": TWILIO_SID},
    )


def test_a_create_echoes_renamed_inputs_with_vendor_initial_values_and_formats() -> None:
    with twilio() as c:
        made = c.post("/Messages.json", data={"To": "+15005550010", "From": "+1500", "Body": "Hi"})
    assert made.status_code == 201
    sent = made.json()
    assert (sent["to"], sent["from"], sent["body"]) == ("+15005550010", "+1500", "Hi")
    assert (sent["status"], sent["direction"]) == ("queued", "outbound-api")
    assert re.fullmatch(r"SM[0-9a-fA-F]{32}", sent["sid"])
    assert sent["account_sid"] == TWILIO_SID
    assert re.fullmatch(r"\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000", sent["date_created"])


def test_next_page_uris_are_relative_and_the_envelope_matches_the_data() -> None:
    with twilio() as c:
        first = c.get("/Messages.json", params={"PageSize": 2}).json()
        second = c.get(first["next_page_uri"].split(TWILIO_SID, 1)[1]).json()
    assert first["next_page_uri"].startswith(f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json?")
    assert (first["page"], first["page_size"], second["page"]) == (0, 2, 1)
    assert first["first_page_uri"].startswith("/2010-04-01/") and "://" not in first["uri"]
    assert [m["sid"] for m in first["messages"]] != [m["sid"] for m in second["messages"]]


def test_an_update_applies_renamed_inputs_and_a_delete_answers_204() -> None:
    with twilio() as c:
        sid = c.post("/Messages.json", data={"To": "+1", "Body": "secret"}).json()["sid"]
        redacted = c.post(f"/Messages/{sid}.json", data={"Body": ""}).json()
        gone = c.delete(f"/Messages/{sid}.json")
        after = c.get(f"/Messages/{sid}.json")
    assert redacted["body"] == "" and gone.status_code == 204
    assert after.status_code == 404 and after.json()["code"] == 20404


# --------------------------------------------------------------------------------- HubSpot


def hubspot() -> httpx.Client:
    return _client("hubspot", "https://api.hubapi.com", {"Authorization": "Bearer pat-na1-x"})


def test_hubspot_answers_on_the_sdk_paths_with_201_merging_updates_and_204_archives() -> None:
    with hubspot() as c:
        made = c.post("/crm/v3/objects/contacts", json={"properties": {"email": "a@example.test"}})
        cid = made.json()["id"]
        changed = c.patch(
            f"/crm/v3/objects/contacts/{cid}", json={"properties": {"firstname": "Jo"}}
        )
        dated = c.get(f"/crm/objects/2026-03/contacts/{cid}")  # the same record on either path
        archived = c.delete(f"/crm/v3/objects/contacts/{cid}")
        after = c.get(f"/crm/v3/objects/contacts/{cid}")
    assert made.status_code == 201
    props = changed.json()["properties"]
    assert (props["email"], props["firstname"]) == ("a@example.test", "Jo")
    assert dated.json()["properties"]["firstname"] == "Jo"
    assert archived.status_code == 204 and archived.content == b""
    assert after.status_code == 404 and after.json()["category"] == "OBJECT_NOT_FOUND"


def test_an_update_leaves_the_state_the_vendor_declares() -> None:
    with stripe() as c:
        made = c.post("/payment_intents", data={"amount": "100", "currency": "usd"}).json()
        done = c.post(f"/payment_intents/{made['id']}/confirm", data={"payment_method": "pm_x"})
        fetched = c.get(f"/payment_intents/{made['id']}").json()
    assert made["status"] == "requires_payment_method"
    assert done.json()["status"] == "succeeded" == fetched["status"] and fetched["amount"] == 100


def test_synthesized_values_honour_declared_formats() -> None:
    with stripe() as c:
        charge = c.get("/charges", params={"limit": 1}).json()["data"][0]
    with twilio() as t:
        message = t.get("/Messages.json", params={"PageSize": 1}).json()["messages"][0]
    assert charge["currency"] == "usd"  # an ISO 4217 code, not a random string
    assert re.fullmatch(r"\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000", message["date_sent"])


def test_synthesized_urls_point_at_the_mock_and_path_values_are_encoded() -> None:
    with github() as c:
        repo = c.get("/repos/o%20x/r").json()
    assert repo["html_url"].startswith("https://api.github.com/")  # the origin asked, not example
    assert repo["url"] == "https://api.github.com/repos/o%20x/r" and repo["full_name"] == "o x/r"
