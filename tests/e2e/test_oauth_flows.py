"""Whole flows against a live server and its real OAuth2 server (django-oauth-toolkit).

Nothing is mocked: the browser signs in and authorizes on HTML pages, the
callback exchanges the code with the token endpoint over HTTP, and the
user is described by /o/userinfo/.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any
from urllib.parse import urlsplit

from oauth2_provider.models import get_access_token_model, get_grant_model

from backend.identity.models import Identity
from backend.identity.oauth2 import ATTEMPT_KEY
from backend.integrations.models import Integration
from backend.pipeline.store import get_store
from tests.conftest import query_of

from .conftest import CALLBACK_PATH, CLIENT_ID, Browser

CHANNELS = ["general", "random", "demo-alerts"]


def _sign_in_chat(browser: Browser) -> dict[str, Any]:
    """A chat flow past its nested sign-in, at the channel form."""
    started = browser.start("integration", "chat")
    return browser.approve(started)


def _install_chat(browser: Browser, channel: str) -> dict[str, Any]:
    at_channel = _sign_in_chat(browser)
    at_confirm = browser.submit(at_channel, {"channel": channel})
    assert at_confirm["step"]["name"] == "confirm", at_confirm
    return browser.submit(at_confirm, {})


# -- identity -----------------------------------------------------------------------------------


def test_identity_flow_starts_with_a_redirect_to_authorize_with_pkce_and_state(
    browser: Browser, server: str
) -> None:
    started = browser.start("identity", "local")

    assert (started["kind"], started["step"]["name"]) == ("redirect", "login")
    url = started["redirect"]["url"]
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{server}/o/authorize/"
    query = query_of(url)
    assert query["response_type"] == "code"
    assert query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == f"{server}{CALLBACK_PATH}"
    assert query["code_challenge_method"] == "S256"
    # A S256 challenge is the unpadded base64url of a SHA-256 digest: 43 characters.
    assert len(query["code_challenge"]) == 43
    assert len(query["state"]) >= 32


def test_approving_sends_the_browser_back_to_the_frontend_with_the_flow(
    browser: Browser,
) -> None:
    started = browser.start("identity", "local")
    back_to_us = browser.authorize(started)
    assert query_of(back_to_us)["state"] == query_of(started["redirect"]["url"])["state"]
    assert query_of(back_to_us)["code"]

    landed = browser.come_back(back_to_us)

    assert landed.status_code == 302
    assert landed.headers["Location"] == f"/?pipeline={started['id']}"


def test_identity_flow_completes_and_links_the_users_local_account(
    browser: Browser, demo_user: Any
) -> None:
    started = browser.start("identity", "local")

    done = browser.approve(started)

    assert (done["status"], done["kind"]) == ("complete", "complete")
    assert done["result"]["identity"]["provider"] == "local"
    assert done["result"]["identity"]["external_id"] == str(demo_user.pk)
    identity = Identity.objects.get()
    assert identity.user_id == demo_user.pk
    assert identity.idp.type == "local"
    assert identity.external_id == str(demo_user.pk)


def test_linking_again_relinks_the_same_identity(browser: Browser) -> None:
    first = browser.approve(browser.start("identity", "local"))
    second = browser.approve(browser.start("identity", "local"))

    assert second["status"] == "complete"
    assert second["id"] != first["id"]
    assert second["result"]["identity"]["id"] == first["result"]["identity"]["id"]
    assert Identity.objects.count() == 1


def test_the_challenge_is_the_s256_of_the_verifier_the_flow_keeps(browser: Browser) -> None:
    started = browser.start("identity", "local")
    challenge = query_of(started["redirect"]["url"])["code_challenge"]

    browser.authorize(started)

    grant = get_grant_model().objects.get()
    assert (grant.code_challenge, grant.code_challenge_method) == (challenge, "S256")
    flow = get_store().load(started["id"])
    assert flow is not None
    verifier = flow.frame.data[ATTEMPT_KEY]["code_verifier"]
    assert _s256(verifier) == challenge
    assert verifier not in started["redirect"]["url"]


def test_replaying_the_callback_exchanges_nothing(browser: Browser) -> None:
    started = browser.start("identity", "local")
    back_to_us = browser.authorize(started)
    assert browser.come_back(back_to_us).status_code == 302
    tokens = get_access_token_model().objects.count()
    version = browser.show(started["id"])["step"]["version"]

    replayed = browser.come_back(back_to_us)

    assert replayed.status_code == 302
    assert replayed.headers["Location"] == f"/?pipeline={started['id']}&error=state_reused"
    assert get_access_token_model().objects.count() == tokens
    assert browser.show(started["id"])["step"]["version"] == version


# -- the nested chat integration ----------------------------------------------------------------


def test_chat_signs_in_inside_its_nested_identity_step(browser: Browser) -> None:
    started = browser.start("integration", "chat")

    assert started["kind"] == "redirect"
    assert started["step"]["name"] == "login"
    assert [
        (level["pipeline"], level["provider"], level["name"]) for level in started["step"]["path"]
    ] == [
        ("integration", "chat", "identity"),
        ("identity", "local", "login"),
    ]
    assert query_of(started["redirect"]["url"])["scope"] == "profile channels"


def test_chat_offers_the_channels_the_provider_described(browser: Browser) -> None:
    at_channel = _sign_in_chat(browser)

    assert (at_channel["kind"], at_channel["step"]["name"]) == ("form", "channel")
    assert len(at_channel["step"]["path"]) == 1
    assert at_channel["form"]["schema"]["properties"]["channel"]["enum"] == CHANNELS


def test_chat_flow_completes_and_installs_the_integration(
    browser: Browser, demo_user: Any
) -> None:
    done = _install_chat(browser, "random")

    assert (done["status"], done["kind"]) == ("complete", "complete")
    assert done["result"]["integration"]["created"] is True
    integration = Integration.objects.get()
    assert integration.provider == "chat"
    assert integration.external_id == str(demo_user.pk)
    assert integration.metadata["channel"] == "random"
    assert integration.user_id == demo_user.pk


def test_installing_chat_again_reinstalls_the_same_integration(browser: Browser) -> None:
    first = _install_chat(browser, "random")
    second = _install_chat(browser, "demo-alerts")

    assert second["result"]["integration"]["created"] is False
    assert second["result"]["integration"]["id"] == first["result"]["integration"]["id"]
    assert Integration.objects.get().metadata["channel"] == "demo-alerts"


def test_chat_does_not_link_an_identity_of_its_own(browser: Browser) -> None:
    _install_chat(browser, "general")
    assert not Identity.objects.exists()


# -- denying ------------------------------------------------------------------------------------


def test_denying_goes_back_to_the_login_step_with_a_provider_error(browser: Browser) -> None:
    started = browser.start("identity", "local")
    back_to_us = browser.authorize(started, allow=False)
    assert query_of(back_to_us)["error"] == "access_denied"

    landed = browser.come_back(back_to_us)
    shown = browser.show(started["id"])

    assert landed.headers["Location"] == f"/?pipeline={started['id']}"
    assert (shown["status"], shown["kind"], shown["step"]["name"]) == (
        "active",
        "redirect",
        "login",
    )
    assert [error["code"] for error in shown["errors"]] == ["oauth_provider_error"]
    fresh_state = query_of(shown["redirect"]["url"])["state"]
    assert fresh_state != query_of(started["redirect"]["url"])["state"]


def test_approving_after_denying_completes(browser: Browser) -> None:
    started = browser.start("identity", "local")
    browser.come_back(browser.authorize(started, allow=False))
    retry = browser.show(started["id"])

    done = browser.approve(retry)

    assert done["status"] == "complete"
    assert done["errors"] == []
    assert Identity.objects.count() == 1


# -- the callback's answer ----------------------------------------------------------------------


def test_the_callback_answers_the_descriptor_when_json_is_accepted(browser: Browser) -> None:
    started = browser.start("identity", "local")

    answered = browser.come_back(browser.authorize(started), accept_json=True)

    assert answered.status_code == 200
    assert answered.headers["Content-Type"].startswith("application/json")
    assert "Location" not in answered.headers
    descriptor = answered.json()
    assert (descriptor["id"], descriptor["status"], descriptor["kind"]) == (
        started["id"],
        "complete",
        "complete",
    )


# -- the example integration --------------------------------------------------------------------


def test_the_example_integration_completes_with_its_one_form(
    browser: Browser, demo_user: Any
) -> None:
    started = browser.start("integration", "example")
    assert (started["kind"], started["step"]["name"]) == ("form", "setup")

    done = browser.submit(started, {"name": "Acme"})

    assert (done["status"], done["result"]["integration"]["created"]) == ("complete", True)
    integration = Integration.objects.get()
    assert (integration.provider, integration.name, integration.user_id) == (
        "example",
        "Acme",
        demo_user.pk,
    )


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
