"""The GitHub, Slack and Google presets: availability, real endpoints, users."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
import responses
from django.test import override_settings

from backend.identity.models import Identity
from backend.identity.oauth2 import OAuth2Provider
from backend.identity.presets import GitHubProvider, GoogleProvider, SlackProvider
from tests.conftest import FlowClient, query_of, state_of
from tests.identity.conftest import (
    CALLBACK_URL,
    basic,
    calls_to,
    come_back,
    form_of,
    redirect_url,
    start,
)
from tests.pipeline.api.conftest import error_of

Mock = responses.RequestsMock

PRESETS = ("github", "slack", "google")

CREDENTIALS = {
    key: {"client_id": f"{key}-id", "client_secret": f"{key}-secret"} for key in PRESETS
}
#: As the settings have them when no environment variable names them.
UNSET = {key: {"client_id": "", "client_secret": ""} for key in PRESETS}


@dataclass(frozen=True)
class Preset:
    key: str
    provider_cls: type[OAuth2Provider]
    authorize_url: str
    token_url: str
    user_url: str
    scope: str
    #: What the provider answers for the code and for the user.
    token: dict[str, Any]
    user: dict[str, Any]
    #: What we link: external id, email, name, scopes.
    external_id: str
    email: str | None
    name: str | None
    scopes: list[str]
    #: Further provider APIs the flow asks, and their answers.
    more: dict[str, Any] = field(default_factory=dict)


GITHUB = Preset(
    key="github",
    provider_cls=GitHubProvider,
    authorize_url="https://github.com/login/oauth/authorize",
    token_url="https://github.com/login/oauth/access_token",
    user_url="https://api.github.com/user",
    scope="read:user user:email",
    token={
        "access_token": "gho_16C7e42F292c",
        "token_type": "bearer",
        "scope": "read:user,user:email",
    },
    user={
        "login": "octocat",
        "id": 583231,
        "node_id": "MDQ6VXNlcjU4MzIzMQ==",
        "avatar_url": "https://avatars.githubusercontent.com/u/583231?v=4",
        "type": "User",
        "site_admin": False,
        "name": None,
        "company": "@github",
        "email": None,
    },
    external_id="583231",
    email="octocat@github.com",
    name="octocat",
    scopes=["read:user", "user:email"],
    # The email is private, so it is looked up among the user's addresses.
    more={
        "https://api.github.com/user/emails": [
            {"email": "old@example.com", "primary": False, "verified": True},
            {"email": "octocat@github.com", "primary": True, "verified": True},
        ]
    },
)
SLACK = Preset(
    key="slack",
    provider_cls=SlackProvider,
    authorize_url="https://slack.com/openid/connect/authorize",
    token_url="https://slack.com/api/openid.connect.token",
    user_url="https://slack.com/api/openid.connect.userInfo",
    scope="openid email profile",
    token={
        "ok": True,
        "access_token": "xoxp-1234",
        "token_type": "Bearer",
        "id_token": "eyJhbGciOi.payload.signature",
    },
    user={
        "ok": True,
        "sub": "U0R7JM",
        "https://slack.com/user_id": "U0R7JM",
        "https://slack.com/team_id": "T0R7GR",
        "email": "krane@slack-corp.com",
        "email_verified": True,
        "name": "krane",
        "given_name": "",
        "locale": "en-US",
        "https://slack.com/team_name": "kraneflannel",
        "https://slack.com/team_domain": "kraneflannel",
    },
    external_id="U0R7JM",
    email="krane@slack-corp.com",
    name="krane",
    scopes=[],
)
GOOGLE = Preset(
    key="google",
    provider_cls=GoogleProvider,
    authorize_url="https://accounts.google.com/o/oauth2/v2/auth",
    token_url="https://oauth2.googleapis.com/token",
    user_url="https://openidconnect.googleapis.com/v1/userinfo",
    scope="openid email profile",
    token={
        "access_token": "ya29.a0AfH6SM",
        "expires_in": 3599,
        "token_type": "Bearer",
        "scope": "openid https://www.googleapis.com/auth/userinfo.email "
        "https://www.googleapis.com/auth/userinfo.profile",
        "id_token": "eyJhbGciOi.payload.signature",
    },
    user={
        "sub": "110169484474386276334",
        "name": "Ada Lovelace",
        "given_name": "Ada",
        "family_name": "Lovelace",
        "picture": "https://lh3.googleusercontent.com/a/photo",
        "email": "ada@gmail.com",
        "email_verified": True,
    },
    external_id="110169484474386276334",
    email="ada@gmail.com",
    name="Ada Lovelace",
    scopes=[
        "openid",
        "https://www.googleapis.com/auth/userinfo.email",
        "https://www.googleapis.com/auth/userinfo.profile",
    ],
)
ALL = [GITHUB, SLACK, GOOGLE]


def catalog_keys(client: FlowClient) -> list[str]:
    catalog = client.get("/api/pipelines/").json()["pipelines"]
    (identity,) = [entry for entry in catalog if entry["name"] == "identity"]
    return [provider["key"] for provider in identity["providers"]]


# -- availability ----------------------------------------------------------------------


@override_settings(IDENTITY_PROVIDERS=UNSET)
def test_presets_without_credentials_are_absent_from_the_catalog(client: FlowClient) -> None:
    assert not set(PRESETS) & set(catalog_keys(client))


@override_settings(IDENTITY_PROVIDERS={})
def test_presets_not_in_the_settings_at_all_are_absent_from_the_catalog(
    client: FlowClient,
) -> None:
    assert not set(PRESETS) & set(catalog_keys(client))


@override_settings(IDENTITY_PROVIDERS=CREDENTIALS)
def test_presets_with_credentials_are_in_the_catalog_with_their_names(
    client: FlowClient,
) -> None:
    catalog = client.get("/api/pipelines/").json()["pipelines"]
    (identity,) = [entry for entry in catalog if entry["name"] == "identity"]
    assert [p for p in identity["providers"] if p["key"] in PRESETS] == [
        {"key": "github", "name": "GitHub"},
        {"key": "slack", "name": "Slack"},
        {"key": "google", "name": "Google"},
    ]


@pytest.mark.parametrize("key", PRESETS)
def test_a_preset_with_a_client_id_but_no_secret_is_absent(client: FlowClient, key: str) -> None:
    with override_settings(IDENTITY_PROVIDERS={key: {"client_id": "cid", "client_secret": ""}}):
        assert key not in catalog_keys(client)


@pytest.mark.parametrize("key", PRESETS)
@override_settings(IDENTITY_PROVIDERS=UNSET)
def test_a_preset_without_credentials_cannot_be_started(user_client: FlowClient, key: str) -> None:
    refused = user_client.start("identity", key)
    assert refused.status_code == 404
    assert error_of(refused)["code"] == "unknown_provider"


@pytest.mark.parametrize("key", PRESETS)
def test_each_preset_needs_only_its_own_credentials(client: FlowClient, key: str) -> None:
    with override_settings(IDENTITY_PROVIDERS={key: CREDENTIALS[key]}):
        assert set(PRESETS) & set(catalog_keys(client)) == {key}


# -- endpoints and scopes ------------------------------------------------------------


@pytest.mark.parametrize("preset", ALL, ids=[p.key for p in ALL])
def test_a_presets_endpoints_are_the_real_ones(preset: Preset) -> None:
    cls = preset.provider_cls
    assert (cls.oauth_authorize_url, cls.oauth_access_token_url, cls.user_url) == (
        preset.authorize_url,
        preset.token_url,
        preset.user_url,
    )


@pytest.mark.parametrize("preset", ALL, ids=[p.key for p in ALL])
@override_settings(IDENTITY_PROVIDERS=CREDENTIALS)
def test_a_preset_sends_the_browser_to_its_real_authorize_url(
    user_client: FlowClient, preset: Preset
) -> None:
    url = redirect_url(start(user_client, preset.key))
    params = query_of(url)

    assert url.split("?")[0] == preset.authorize_url
    assert params["client_id"] == f"{preset.key}-id"
    assert params["scope"] == preset.scope
    assert params["redirect_uri"] == CALLBACK_URL
    assert params["code_challenge_method"] == "S256"


# -- users ------------------------------------------------------------------------


def test_github_maps_a_user_of_no_name_to_its_login() -> None:
    parsed = GitHubProvider().parse_user(GITHUB.user)
    assert parsed == {"id": "583231", "email": None, "name": "octocat", "login": "octocat"}


def test_github_keeps_a_users_name_and_public_email() -> None:
    described = {**GITHUB.user, "name": "The Octocat", "email": "octocat@github.com"}
    parsed = GitHubProvider().parse_user(described)
    assert (parsed["name"], parsed["email"]) == ("The Octocat", "octocat@github.com")


def test_slack_maps_the_subject_and_the_team_claim() -> None:
    parsed = SlackProvider().parse_user(SLACK.user)
    assert parsed == {
        "id": "U0R7JM",
        "email": "krane@slack-corp.com",
        "name": "krane",
        "team": "T0R7GR",
    }


def test_google_maps_the_subject() -> None:
    parsed = GoogleProvider().parse_user(GOOGLE.user)
    assert parsed == {
        "id": "110169484474386276334",
        "email": "ada@gmail.com",
        "name": "Ada Lovelace",
    }


@pytest.mark.parametrize(
    ("provider_cls", "described"),
    [
        (GitHubProvider, {"login": "octocat"}),
        (SlackProvider, {"ok": False, "error": "invalid_auth"}),
        (GoogleProvider, {"email": "ada@gmail.com"}),
    ],
    ids=["github", "slack", "google"],
)
def test_a_user_without_an_id_is_unusable(
    provider_cls: type[OAuth2Provider], described: dict[str, Any]
) -> None:
    with pytest.raises(KeyError):
        provider_cls().parse_user(described)


# -- a whole flow each ------------------------------------------------------------


@pytest.mark.parametrize("preset", ALL, ids=[p.key for p in ALL])
@override_settings(IDENTITY_PROVIDERS=CREDENTIALS)
def test_a_preset_flow_links_an_identity(
    user_client: FlowClient, user: Any, preset: Preset
) -> None:
    started = start(user_client, preset.key)
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.post(preset.token_url, json=preset.token)
        mock.get(preset.user_url, json=preset.user)
        for url, answer in preset.more.items():
            mock.get(url, json=answer)

        done = come_back(user_client, code="real-code", state=state_of(started)).json()

        (exchange,) = calls_to(mock, preset.token_url)
        (fetch,) = calls_to(mock, preset.user_url)
    assert exchange.headers["Authorization"] == basic(f"{preset.key}-id", f"{preset.key}-secret")
    assert form_of(exchange)["code"] == "real-code"
    assert fetch.headers["Authorization"] == f"Bearer {preset.token['access_token']}"
    assert (done["status"], done["result"]["identity"]["provider"]) == ("complete", preset.key)
    identity = Identity.objects.get()
    assert (identity.user, identity.idp.type, identity.external_id) == (
        user,
        preset.key,
        preset.external_id,
    )
    assert (identity.data["email"], identity.data["name"]) == (preset.email, preset.name)
    assert identity.scopes == preset.scopes


@override_settings(IDENTITY_PROVIDERS=CREDENTIALS)
def test_github_is_asked_for_a_json_token_answer(user_client: FlowClient) -> None:
    # GitHub answers form-encoded unless asked for JSON.
    started = start(user_client, "github")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(GITHUB.token_url, json=GITHUB.token)
        mock.get(GITHUB.user_url, json=GITHUB.user)
        come_back(user_client, code="real-code", state=state_of(started))
        (exchange,) = calls_to(mock, GITHUB.token_url)
    assert exchange.headers["Accept"] == "application/json"


@override_settings(IDENTITY_PROVIDERS=CREDENTIALS)
def test_a_slack_refusal_answered_with_200_goes_back_to_login(user_client: FlowClient) -> None:
    started = start(user_client, "slack")
    spent = state_of(started)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(SLACK.token_url, json={"ok": False, "error": "invalid_code"})
        answer = come_back(user_client, code="real-code", state=spent).json()
        assert calls_to(mock, SLACK.user_url) == []

    assert (answer["status"], answer["step"]["name"]) == ("active", "login")
    assert state_of(answer) != spent
    assert answer["errors"] == [
        {
            "code": "oauth_token_error",
            "message": "The provider refused the sign-in.",
            "field": None,
        }
    ]
    assert "invalid_code" not in str(answer)
    assert not Identity.objects.exists()


@override_settings(IDENTITY_PROVIDERS=CREDENTIALS)
def test_a_github_user_of_another_account_of_ours_is_not_linked_twice(
    user_client: FlowClient, other_client: FlowClient, other_user: Any, user: Any
) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(GITHUB.token_url, json=GITHUB.token)
        mock.get(GITHUB.user_url, json=GITHUB.user)
        for url, answer in GITHUB.more.items():
            mock.get(url, json=answer)
        come_back(user_client, code="one", state=state_of(start(user_client, "github")))
        other_client.login("grace", "hopper-1906")
        failed = come_back(
            other_client, code="two", state=state_of(start(other_client, "github"))
        ).json()

    assert (failed["status"], failed["errors"][0]["code"]) == (
        "failed",
        "identity_already_linked",
    )
    assert Identity.objects.get().user == user


@override_settings(IDENTITY_PROVIDERS=CREDENTIALS)
def test_a_github_user_with_a_public_email_is_not_asked_for_more(user_client: FlowClient) -> None:
    started = start(user_client, "github")
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.post(GITHUB.token_url, json=GITHUB.token)
        mock.get(GITHUB.user_url, json={**GITHUB.user, "email": "public@example.com"})
        done = come_back(user_client, code="real-code", state=state_of(started)).json()
    assert done["result"]["identity"]["email"] == "public@example.com"


@override_settings(IDENTITY_PROVIDERS=CREDENTIALS)
def test_a_github_user_with_no_verified_primary_email_has_none(user_client: FlowClient) -> None:
    started = start(user_client, "github")
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.post(GITHUB.token_url, json=GITHUB.token)
        mock.get(GITHUB.user_url, json=GITHUB.user)
        mock.get(
            "https://api.github.com/user/emails",
            json=[{"email": "x@example.com", "primary": True, "verified": False}],
        )
        done = come_back(user_client, code="real-code", state=state_of(started)).json()
    assert done["status"] == "complete"
    assert done["result"]["identity"]["email"] is None
