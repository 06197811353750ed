from typing import Any
from urllib.parse import parse_qs, urlsplit

import responses
from django.test import override_settings

from backend.integrations.chat import ChooseChannel, choose_channel
from backend.integrations.models import Integration
from backend.pipeline.models import Flow
from backend.pipeline.registry import get_pipeline_class
from tests.conftest import FlowClient

LOCAL_ENABLED = {
    "local": {"enabled": True, "client_id": "cid", "client_secret": "secret", "base_url": ""}
}
CHAT_URL = "https://chat.example"
CHAT_SERVER = {**LOCAL_ENABLED["local"], "base_url": CHAT_URL}


def test_example_integration_is_one_form_then_installed(
    user_client: FlowClient, user: Any
) -> None:
    started = user_client.start("integration", "example").json()
    assert started["step"]["name"] == "setup"
    done = user_client.submit(started, {"name": "acme"}).json()

    assert done["result"]["integration"]["created"] is True
    integration = Integration.objects.get()
    assert (integration.provider, integration.external_id, integration.user) == (
        "example",
        "acme",
        user,
    )


def test_example_integration_installed_again_is_updated(user_client: FlowClient) -> None:
    for _ in range(2):
        started = user_client.start("integration", "example").json()
        done = user_client.submit(started, {"name": "acme"}).json()
    assert done["result"]["integration"]["created"] is False
    assert Integration.objects.count() == 1


def test_an_integration_of_another_user_ends_the_flow_failed_and_stays_theirs(
    user_client: FlowClient, other_client: FlowClient, other_user: Any, user: Any
) -> None:
    user_client.submit(user_client.start("integration", "example").json(), {"name": "acme"})
    other_client.login("grace", "hopper-1906")
    started = other_client.start("integration", "example").json()

    failed = other_client.submit(started, {"name": "acme"}).json()

    assert failed["status"] == "failed"
    assert [error["code"] for error in failed["errors"]] == ["integration_taken"]
    assert Integration.objects.get().user == user


def test_integrations_need_a_logged_in_user(client: FlowClient) -> None:
    assert client.start("integration", "example").status_code == 401


def test_chat_is_offered_only_with_the_local_server(client: FlowClient) -> None:
    def providers() -> list[str]:
        catalog = client.get("/api/pipelines/").json()["pipelines"]
        entry = next(item for item in catalog if item["name"] == "integration")
        return [provider["key"] for provider in entry["providers"]]

    assert providers() == ["example"]
    with override_settings(IDENTITY_PROVIDERS=LOCAL_ENABLED):
        assert providers() == ["example", "chat"]


def test_chat_nests_the_identity_sign_in_first(user_client: FlowClient) -> None:
    with override_settings(IDENTITY_PROVIDERS=LOCAL_ENABLED):
        started = user_client.start("integration", "chat").json()
    assert started["kind"] == "redirect"
    assert [level["pipeline"] for level in started["step"]["path"]] == ["integration", "identity"]
    assert started["step"]["name"] == "login"
    assert (started["step"]["index"], started["step"]["total"]) == (0, 3)


def test_channel_choices_come_from_what_the_sign_in_returned() -> None:
    class FakePipeline:
        def fetch_state(self, key: str) -> Any:
            assert key == "identity"
            return {"user": {"id": "1", "channels": ["ops", "dev"]}}

    step = choose_channel(FakePipeline())  # type: ignore[arg-type]
    assert isinstance(step, ChooseChannel)
    serializer = step.get_serializer(FakePipeline(), data={"channel": "ops"})  # type: ignore[arg-type]
    assert serializer.is_valid()
    assert not step.get_serializer(FakePipeline(), data={"channel": "x"}).is_valid()  # type: ignore[arg-type]


def test_integration_pipeline_is_served() -> None:
    assert get_pipeline_class("integration").pipeline_name == "integration"


def test_chat_gives_the_nested_sign_in_its_scopes_and_redirect_url(
    user_client: FlowClient,
) -> None:
    with override_settings(IDENTITY_PROVIDERS=LOCAL_ENABLED):
        started = user_client.start("integration", "chat").json()
    query = parse_qs(urlsplit(started["redirect"]["url"]).query)
    assert query["scope"] == ["profile channels"]
    assert query["redirect_uri"] == ["http://testserver/api/pipelines/callback/"]


def test_the_channel_step_does_not_go_back_into_the_sign_in() -> None:
    assert ChooseChannel(["ops"]).allow_back is False


def test_chat_with_no_channel_to_post_to_ends_the_flow_saying_why(user_client: FlowClient) -> None:
    # The sign-in returned no channel: a channel form with no choice would hold the flow.
    with (
        override_settings(IDENTITY_PROVIDERS={"local": CHAT_SERVER}),
        responses.RequestsMock() as provider,
    ):
        provider.post(f"{CHAT_URL}/o/token/", json={"access_token": "at", "token_type": "Bearer"})
        provider.get(f"{CHAT_URL}/o/userinfo/", json={"id": 7, "name": "Ada", "channels": []})
        started = user_client.start("integration", "chat").json()
        state = parse_qs(urlsplit(started["redirect"]["url"]).query)["state"][0]
        answer = user_client.raw.get(
            "/api/pipelines/callback/",
            {"state": state, "code": "c", "iss": CHAT_URL},
            HTTP_ACCEPT="application/json",
        ).json()

    assert answer["status"] == "failed", answer
    assert answer["errors"][0]["code"] == "no_channels"
    assert not Integration.objects.exists()
    # The chat service's access token, bound by the sign-in, went with the flow.
    row = Flow.objects.get(pk=answer["id"])
    assert (row.data, row.child) == ({}, None)
