"""The generated clients' calling conventions: NOT_GIVEN versus null, plain-dict inputs, typed
request options, raw responses, parameter docs and stable nested names."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
from pydantic import SecretStr

from patchbay.connectors.github import AsyncGithubClient, GithubClient, GithubTokenCredentials
from patchbay.connectors.stripe import StripeApiKeyCredentials, StripeClient
from patchbay.connectors.stripe import models as st
from patchbay.mocks.oracles import github as github_standin
from patchbay.mocks.oracles import stripe as stripe_standin
from patchbay.runtime import PatchbayError
from patchbay.runtime.http._client_base import NOT_GIVEN, NotGiven

ROOT = Path(__file__).resolve().parent.parent
GITHUB_TOKEN = GithubTokenCredentials(token=SecretStr(github_standin.DEMO_TOKEN))
STRIPE_KEY = StripeApiKeyCredentials(api_key=SecretStr(stripe_standin.DEMO_KEY))


def _github() -> tuple[github_standin.GitHubStandIn, GithubClient]:
    standin = github_standin.make_standin(3)
    return standin, GithubClient(GITHUB_TOKEN, transport=standin.transport())


def test_none_sends_null_and_omitted_arguments_send_nothing() -> None:
    standin, client = _github()
    issue = client.create_issue(owner="octocat", repo="hello-world", title="T")
    client.update_issue(
        owner="octocat", repo="hello-world", issue_number=issue.number, milestone=None
    )
    assert json.loads(standin.requests[-1].content) == {"milestone": None}
    client.update_issue(owner="octocat", repo="hello-world", issue_number=issue.number, body="b")
    assert json.loads(standin.requests[-1].content) == {"body": "b"}


def test_null_is_refused_where_the_schema_does_not_allow_it() -> None:
    standin, client = _github()
    sent = len(standin.requests)
    with pytest.raises(PatchbayError) as info:
        client.update_issue(
            owner="octocat",
            repo="hello-world",
            issue_number=1,
            labels=None,  # type: ignore[arg-type]  # the signature refuses it as well
        )
    assert info.value.code == "validation" and len(standin.requests) == sent


def test_not_given_is_a_falsy_singleton() -> None:
    assert NotGiven() is NOT_GIVEN and not NOT_GIVEN and repr(NOT_GIVEN) == "NOT_GIVEN"


def test_nested_inputs_take_plain_dicts_and_models_alike() -> None:
    standin = stripe_standin.make_standin(1)
    client = StripeClient(STRIPE_KEY, transport=standin.transport())
    client.create_customer(email="a@example.test", address={"city": "Oslo", "country": "NO"})
    as_dict = standin.requests[-1].content
    model = st.CreateCustomerInputAddress(city="Oslo", country="NO")
    client.create_customer(email="a@example.test", address=model)
    assert standin.requests[-1].content == as_dict
    assert b"address%5Bcity%5D=Oslo" in as_dict and b"address%5Bcountry%5D=NO" in as_dict


def test_request_options_dict_is_checked_with_a_clear_error() -> None:
    standin, client = _github()
    client.get_issue(
        owner="octocat",
        repo="hello-world",
        issue_number=1,
        request_options={"timeout": 2.0, "extra_headers": {"X-Trace": "t-1"}},
    )
    assert standin.requests[-1].headers["x-trace"] == "t-1"
    with pytest.raises(PatchbayError) as info:
        client.get_issue(
            owner="octocat",
            repo="hello-world",
            issue_number=1,
            request_options={"timeuot": 2.0},  # type: ignore[typeddict-unknown-key]
        )
    assert info.value.code == "config" and "'timeuot'" in str(info.value)
    with pytest.raises(PatchbayError) as info:
        client.get_issue(
            owner="octocat",
            repo="hello-world",
            issue_number=1,
            request_options=2.0,  # type: ignore[arg-type]
        )
    assert info.value.code == "config" and "request_options" in str(info.value)


def test_raw_responses_give_status_and_headers_sync_and_async() -> None:
    standin, client = _github()
    with client.raw_responses() as raw:
        created = client.create_issue(owner="octocat", repo="hello-world", title="Raw")
    assert raw.last.status_code == 201 and raw.last.body["title"] == "Raw" == created.title
    assert "content-type" in raw.last.headers
    client.get_issue(owner="octocat", repo="hello-world", issue_number=1)
    assert len(raw.responses) == 1  # calls after the block are not recorded
    with pytest.raises(PatchbayError):
        with client.raw_responses() as empty:
            pass
        empty.last  # noqa: B018  # no call inside the block: nothing to show

    async def run() -> int:
        async with AsyncGithubClient(GITHUB_TOKEN, transport=standin.transport()) as aclient:
            with aclient.raw_responses() as araw:
                await aclient.get_issue(owner="octocat", repo="hello-world", issue_number=1)
            return araw.last.status_code

    assert asyncio.run(run()) == 200


def test_parameter_descriptions_reach_method_docstrings() -> None:
    doc = StripeClient.list_customers.__doc__ or ""
    assert "Args:" in doc and "email: A case-sensitive filter" in doc


def test_nested_type_names_follow_the_field_path() -> None:
    notion = (ROOT / "generated/notion/models.py").read_text()
    stripe = (ROOT / "generated/stripe/models.py").read_text()
    assert "class CreatePageInputParentWithPageId(" in notion
    assert not re.search(r"class (CreatePageInput)?Parent\d", notion)
    assert "class CreateCustomerInputAddress(" in stripe and "class Address1(" not in stripe
    # List envelopes of paged actions are used by nothing and not emitted.
    assert "class CustomerList(" not in stripe and "class ChargeList(" not in stripe


def test_sync_and_async_methods_share_one_endpoint_and_no_input_block() -> None:
    client = (ROOT / "generated/github/client.py").read_text()
    assert "dump_input" not in client and "result: " not in client
    assert client.count("self._call(_UPDATE_ISSUE, locals(), options=request_options)") == 2
