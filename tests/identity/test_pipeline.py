from typing import Any

import pytest

from backend.identity.models import Identity
from tests.conftest import FlowClient


def _link(client: FlowClient, email: str) -> Any:
    started = client.start("identity", "dummy").json()
    return client.submit(started, {"email": email})


def test_dummy_identity_flow_links_an_identity_to_the_user(
    user_client: FlowClient, user: Any
) -> None:
    started = user_client.start("identity", "dummy")
    assert started.status_code == 201
    assert started.json()["step"]["name"] == "ask_email"

    done = user_client.submit(started.json(), {"email": "ada@example.com"})
    assert done.status_code == 200
    assert done.json()["result"]["identity"]["external_id"] == "ada@example.com"
    identity = Identity.objects.get()
    assert (identity.user, identity.idp.type, identity.external_id) == (
        user,
        "dummy",
        "ada@example.com",
    )


def test_an_invalid_email_shows_the_form_again_with_what_was_typed(
    user_client: FlowClient,
) -> None:
    refused = _link(user_client, "not-an-email")
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["field"] == "email"
    assert refused.json()["form"]["data"] == {"email": "not-an-email"}
    assert not Identity.objects.exists()


@pytest.mark.parametrize("body", [{"name": "Ada"}, {}], ids=["another-field", "empty"])
def test_a_body_without_an_email_shows_the_form_again_empty(
    user_client: FlowClient, body: dict[str, Any]
) -> None:
    started = user_client.start("identity", "dummy").json()
    refused = user_client.submit(started, body)
    assert refused.status_code == 400
    assert refused.json()["form"]["data"] == {}


@pytest.mark.parametrize(
    "domain",
    [
        "b" * 63 + "." + "c" * 63 + "." + "d" * 62,
        "b" * 63 + "." + "c" * 63 + "." + "d" * 63 + ".ee",
    ],
    ids=["255", "258"],
)
def test_an_email_longer_than_254_characters_shows_the_form_again(
    user_client: FlowClient, domain: str
) -> None:
    # Valid to Django's validator, which allows 320 characters; no identity keeps it.
    refused = _link(user_client, "a" * 64 + "@" + domain)
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["field"] == "email"
    assert not Identity.objects.exists()


def test_linking_again_updates_instead_of_duplicating(user_client: FlowClient) -> None:
    _link(user_client, "ada@example.com")
    _link(user_client, "ada@example.com")
    assert Identity.objects.count() == 1


def test_an_account_linked_to_another_user_fails_and_writes_nothing(
    user_client: FlowClient, other_client: FlowClient, other_user: Any, user: Any
) -> None:
    _link(user_client, "ada@example.com")
    other_client.login("grace", "hopper-1906")

    failed = _link(other_client, "ada@example.com").json()
    assert (failed["kind"], failed["status"]) == ("error", "failed")
    assert failed["errors"][0]["code"] == "identity_already_linked"
    assert Identity.objects.get().user == user


def test_identity_needs_a_logged_in_user(client: FlowClient) -> None:
    refused = client.start("identity", "dummy")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "not_authenticated"
