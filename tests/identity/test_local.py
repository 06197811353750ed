"""The local provider: the demo's own OAuth2 server as an identity provider."""

from __future__ import annotations

from typing import Any

import pytest
import responses
from django.test import Client, override_settings
from oauth2_provider.models import get_application_model

from backend.identity.local import LocalProvider
from backend.identity.models import Identity
from tests.conftest import FlowClient, query_of, state_of
from tests.identity.conftest import (
    LOCAL,
    TOKEN,
    USER,
    basic,
    calls_to,
    come_back,
    redirect_url,
    start,
)
from tests.pipeline.api.conftest import error_of

Mock = responses.RequestsMock

#: Enabled, with no `base_url`: the server is the one serving the request.
SAME_ORIGIN = {"enabled": True, "client_id": "cid", "client_secret": "sec", "base_url": ""}


def catalog_keys(client: FlowClient) -> list[str]:
    catalog = client.get("/api/pipelines/").json()["pipelines"]
    (identity,) = [entry for entry in catalog if entry["name"] == "identity"]
    return [provider["key"] for provider in identity["providers"]]


# -- availability ----------------------------------------------------------------------


@override_settings(IDENTITY_PROVIDERS={"local": {**LOCAL, "enabled": False}})
def test_the_local_provider_is_unavailable_unless_enabled(user_client: FlowClient) -> None:
    assert "local" not in catalog_keys(user_client)
    refused = user_client.start("identity", "local")
    assert refused.status_code == 404
    assert error_of(refused)["code"] == "unknown_provider"


@override_settings(IDENTITY_PROVIDERS={"local": {"client_id": "cid", "client_secret": "sec"}})
def test_credentials_alone_do_not_enable_the_local_provider(client: FlowClient) -> None:
    assert "local" not in catalog_keys(client)


@override_settings(IDENTITY_PROVIDERS={"local": {**LOCAL, "client_secret": ""}})
def test_an_enabled_local_provider_still_needs_its_credentials(client: FlowClient) -> None:
    assert "local" not in catalog_keys(client)


@override_settings(IDENTITY_PROVIDERS={"local": LOCAL})
def test_an_enabled_local_provider_is_in_the_catalog(client: FlowClient) -> None:
    catalog = client.get("/api/pipelines/").json()["pipelines"]
    (identity,) = [entry for entry in catalog if entry["name"] == "identity"]
    assert {"key": "local", "name": "Local demo server"} in identity["providers"]


# -- endpoints ---------------------------------------------------------------------


@override_settings(IDENTITY_PROVIDERS={"local": SAME_ORIGIN})
def test_with_no_base_url_the_authorize_endpoint_is_on_the_requests_origin(
    user_client: FlowClient,
) -> None:
    url = redirect_url(start(user_client))
    assert url.split("?")[0] == "http://testserver/o/authorize/"
    assert query_of(url)["scope"] == "profile"


@override_settings(IDENTITY_PROVIDERS={"local": SAME_ORIGIN})
def test_with_no_base_url_the_code_and_user_are_asked_of_the_requests_origin(
    user_client: FlowClient, user: Any
) -> None:
    started = start(user_client)
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.post("http://testserver/o/token/", json=TOKEN)
        mock.get("http://testserver/o/userinfo/", json=USER)

        back = {"code": "abc", "state": state_of(started), "iss": "http://testserver"}
        done = come_back(user_client, **back).json()

        (exchange,) = calls_to(mock, "http://testserver/o/token/")
    assert exchange.headers["Authorization"] == basic("cid", "sec")
    assert done["status"] == "complete"
    assert Identity.objects.get().user == user


@override_settings(
    IDENTITY_PROVIDERS={"local": {**LOCAL, "base_url": "https://chat.example/sso/"}}
)
def test_a_base_url_is_joined_to_the_endpoint_paths_without_a_double_slash(
    user_client: FlowClient,
) -> None:
    url = redirect_url(start(user_client))
    assert url.split("?")[0] == "https://chat.example/sso/o/authorize/"


@override_settings(
    IDENTITY_PROVIDERS={"local": {**LOCAL, "authorize_url": "https://elsewhere.example/authorize"}}
)
def test_the_local_endpoints_follow_the_base_url_and_nothing_else(
    user_client: FlowClient,
) -> None:
    url = redirect_url(start(user_client))
    assert url.split("?")[0] == "https://chat.example/o/authorize/"


# -- users ---------------------------------------------------------------------------


def test_the_local_user_keeps_its_channels() -> None:
    parsed = LocalProvider().parse_user(USER)
    assert parsed == {
        "id": "42",
        "email": "ada@chat.example",
        "name": "Ada",
        "channels": ["alerts", "ops"],
    }


def test_a_local_user_in_no_channel_has_none() -> None:
    parsed = LocalProvider().parse_user({"id": 7, "email": None, "name": "Bob"})
    assert parsed["channels"] == []


def test_a_local_user_without_an_id_is_unusable() -> None:
    with pytest.raises(KeyError):
        LocalProvider().parse_user({"sub": "7", "email": "bob@chat.example"})


@override_settings(IDENTITY_PROVIDERS={"local": LOCAL})
def test_a_local_identity_keeps_the_users_channels(
    user_client: FlowClient,
) -> None:
    started = start(user_client)
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.post("https://chat.example/o/token/", json=TOKEN)
        mock.get("https://chat.example/o/userinfo/", json=USER)
        done = come_back(user_client, code="abc", state=state_of(started)).json()

    assert done["status"] == "complete"
    identity = Identity.objects.get()
    assert (identity.idp.type, identity.external_id) == ("local", "42")
    assert identity.data["data"]["user"]["channels"] == ["alerts", "ops"]


#: The local server where a proxy serves it under a path (`LOCAL_OAUTH_BASE_URL`).
UNDER_A_PATH = {**LOCAL, "base_url": "https://chat.example/sso/"}


@override_settings(
    IDENTITY_PROVIDERS={"local": UNDER_A_PATH},
    ALLOWED_HOSTS=["testserver", "chat.example"],
)
def test_a_local_server_under_a_path_has_its_code_exchanged(
    user_client: FlowClient, user: Any
) -> None:
    # The code as the demo's server really answers it: django-oauth-toolkit,
    # reached through the proxy that serves it at https://chat.example/sso/.
    started = start(user_client)
    authorize = query_of(redirect_url(started))
    application_model = get_application_model()
    application_model.objects.create(
        client_id="cid",
        client_secret="sec",
        user=user,
        client_type=application_model.CLIENT_CONFIDENTIAL,
        authorization_grant_type=application_model.GRANT_AUTHORIZATION_CODE,
        redirect_uris=authorize["redirect_uri"],
        algorithm="",
    )
    browser = Client()
    browser.force_login(user)
    consent = browser.post(
        "/o/authorize/",
        {**authorize, "allow": "Allow"},
        secure=True,
        HTTP_HOST="chat.example",
        SCRIPT_NAME="/sso",
    )
    assert consent.status_code == 302, consent.content
    answer = query_of(consent["Location"])
    assert answer["code"], answer

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post("https://chat.example/sso/o/token/", json=TOKEN)
        mock.get("https://chat.example/sso/o/userinfo/", json=USER)
        back = {"code": answer["code"], "state": answer["state"], "iss": answer.get("iss", "")}
        done = come_back(user_client, **back).json()

    assert done["status"] == "complete", (answer.get("iss"), done.get("errors"))
