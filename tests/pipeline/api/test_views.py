"""Every endpoint and status code of the protocol, and the descriptor's shape."""

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from django.db.models import F
from django.test import override_settings
from rest_framework import serializers

from backend.onboarding import pipeline as onboarding
from backend.onboarding.pipeline import DefaultOnboardingProvider
from backend.pipeline import INITIAL_DATA_KEY
from backend.pipeline.errors import StateTooLarge
from backend.pipeline.models import Flow
from backend.pipeline.state import MAX_RETURN_TO_LENGTH
from backend.pipeline.store import DatabaseStore
from tests.conftest import COMPANY, CONFIRM, PROFILE, FlowClient

from .conftest import API, act, back_url, codes, error_of, flow_url, position

RESULT = {"email": "ada@example.com", "name": "Ada", "company": "Analytical Engines", "size": "m"}


# -- catalog ----------------------------------------------------------------------------------


def test_catalog_lists_every_pipeline_with_its_providers(client: FlowClient) -> None:
    response = client.get(API)
    assert response.status_code == 200
    assert response.json() == {
        "pipelines": [
            {
                "name": "onboarding",
                "title": "Onboarding",
                "providers": [{"key": "default", "name": "Default"}],
            },
            {
                "name": "identity",
                "title": "Link an identity",
                "providers": [{"key": "dummy", "name": "Dummy"}],
            },
            {
                "name": "integration",
                "title": "Add an integration",
                "providers": [{"key": "example", "name": "Example"}],
            },
        ]
    }


@override_settings(PIPELINE_CLASSES=["tests.pipeline.examples.GetOnlyManagerPipeline"])
def test_catalog_lists_a_pipeline_whose_provider_manager_only_has_get(
    client: FlowClient,
) -> None:
    # The README: "The manager's only duty is `get(provider_key)`".
    response = client.get(API)
    assert response.status_code == 200
    assert response.json()["pipelines"][0]["name"] == "get_only"


# -- start ------------------------------------------------------------------------------------


def test_start_returns_201_with_the_first_step(client: FlowClient) -> None:
    response = client.start()
    assert response.status_code == 201
    body = response.json()
    assert body["pipeline"] == "onboarding"
    assert body["provider"] == "default"
    assert body["status"] == "active"
    assert body["kind"] == "form"
    assert body["step"]["name"] == "profile"
    assert body["step"]["version"] == 1


def test_start_returns_a_flow_token(client: FlowClient) -> None:
    body = client.start().json()
    assert isinstance(body["token"], str)
    assert len(body["token"]) >= 32


def test_each_start_gets_its_own_id_and_token(client: FlowClient) -> None:
    first, second = client.start().json(), client.start().json()
    assert first["id"] != second["id"]
    assert first["token"] != second["token"]


def test_start_sets_location_to_the_flow(client: FlowClient) -> None:
    response = client.start()
    assert response["Location"] == flow_url(response.json()["id"])


def test_token_is_only_in_the_start_answer(client: FlowClient, started: dict[str, Any]) -> None:
    assert "token" not in client.show(started["id"]).json()
    assert "token" not in client.submit(started, PROFILE).json()


def test_start_without_pipeline_is_a_malformed_request(client: FlowClient) -> None:
    response = client.post(API, {"provider": "default"})
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_request"
    assert [item["field"] for item in error["errors"]] == ["pipeline"]


@pytest.mark.parametrize("field", ["pipeline", "provider", "return_to"])
@pytest.mark.parametrize("value", [1, 1.5, True, ["onboarding"]])
def test_start_with_a_name_or_address_that_is_no_string_is_a_malformed_request(
    client: FlowClient, field: str, value: Any
) -> None:
    body = {"pipeline": "onboarding", "provider": "default", field: value}
    response = client.post(API, body)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_request"
    assert [item["field"] for item in error["errors"]] == [field]


def test_start_without_provider_is_a_malformed_request(client: FlowClient) -> None:
    response = client.post(API, {"pipeline": "onboarding"})
    assert response.status_code == 400
    assert [item["field"] for item in error_of(response)["errors"]] == ["provider"]


def test_start_of_unknown_pipeline_returns_404_unknown_pipeline(client: FlowClient) -> None:
    response = client.start("no-such-pipeline")
    assert response.status_code == 404
    assert error_of(response)["code"] == "unknown_pipeline"


def test_start_of_unknown_provider_returns_404_unknown_provider(client: FlowClient) -> None:
    response = client.start("onboarding", "no-such-provider")
    assert response.status_code == 404
    assert error_of(response)["code"] == "unknown_provider"


@override_settings(PIPELINE_CLASSES=["tests.pipeline.examples.GetOnlyManagerPipeline"])
def test_start_of_a_pipeline_whose_provider_manager_only_has_get_returns_201(
    client: FlowClient,
) -> None:
    response = client.start("get_only", "sentry")
    assert response.status_code == 201
    assert response.json()["step"]["name"] == "get_user_input"


@pytest.mark.parametrize(
    ("pipeline", "provider", "code"),
    [
        ("p" * 65, "default", "unknown_pipeline"),
        ("onboarding", "p" * 4000, "unknown_provider"),
        (" ", "default", "unknown_pipeline"),
        (" onboarding", "default", "unknown_pipeline"),
        ("onboarding", "default\n", "unknown_provider"),
    ],
    ids=["long-pipeline", "long-provider", "space", "leading-space", "trailing-newline"],
)
def test_a_name_is_looked_up_as_sent_and_one_no_pipeline_has_is_unknown(
    client: FlowClient, pipeline: str, provider: str, code: str
) -> None:
    # The schema allows any non-empty string, however long, spaces included.
    response = client.start(pipeline, provider)
    assert response.status_code == 404
    assert error_of(response)["code"] == code


def test_start_of_a_login_required_pipeline_while_anonymous_returns_401(
    client: FlowClient,
) -> None:
    response = client.start("identity", "dummy")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert error_of(response)["code"] == "not_authenticated"


def test_start_of_a_login_required_pipeline_when_logged_in_returns_201(
    user_client: FlowClient,
) -> None:
    response = user_client.start("identity", "dummy")
    assert response.status_code == 201
    assert response.json()["step"]["name"] == "ask_email"


def test_start_with_return_to_on_another_origin_returns_400_invalid_return_to(
    client: FlowClient,
) -> None:
    response = client.start(return_to="https://evil.example/done")
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_return_to"


@pytest.mark.parametrize(
    "return_to",
    [
        "//evil.example/done",
        "///evil.example/done",
        "javascript:alert(1)",
        "https://app.example.evil.example/",
        "https://app.example:8443/done",
        "http://app.example/done",
        "http://[",
        "https://app.example]/done",
        "/\tevil.test",  # a browser drops the tab: not the address checked
        # Relative: the browser would read it against /api/pipelines/callback/.
        "settings/done",
        "?tab=1",
        "#top",
    ],
)
@override_settings(PIPELINE_RETURN_TO_ORIGINS=["https://app.example"])
def test_start_refuses_return_to_that_only_looks_allowed(
    client: FlowClient, return_to: str
) -> None:
    response = client.start(return_to=return_to)
    assert response.status_code == 400
    assert error_of(response) == {
        "code": "invalid_return_to",
        "message": "The return address must be a path from the root, or a URL on an "
        "allowed origin, with no control characters.",
    }


def test_start_refuses_a_return_to_too_long_to_keep_as_invalid_return_to(
    client: FlowClient,
) -> None:
    longest = "/" + "a" * (MAX_RETURN_TO_LENGTH - 1)
    assert client.start(return_to=longest).status_code == 201
    response = client.start(return_to=longest + "a")
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_return_to"


def test_start_counts_a_return_to_percent_encoded_as_its_redirect_will_carry_it(
    client: FlowClient,
) -> None:
    # An emoji is twelve characters percent-encoded: 171 of them, with the path, pass 2,048.
    longest = "/done?e=" + "\U0001f600" * 170
    assert client.start(return_to=longest).status_code == 201
    response = client.start(return_to=longest + "\U0001f600")
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_return_to"


def test_start_accepts_a_return_to_that_is_a_path_of_ours(client: FlowClient) -> None:
    assert client.start(return_to="/settings/done?tab=1").status_code == 201


def test_start_accepts_return_to_on_its_own_origin(client: FlowClient) -> None:
    assert client.start(return_to="http://testserver/done").status_code == 201


@override_settings(PIPELINE_RETURN_TO_ORIGINS=["https://app.example"])
def test_start_accepts_return_to_on_an_allowed_origin(client: FlowClient) -> None:
    assert client.start(return_to="https://app.example/done?x=1").status_code == 201


def test_start_ignores_initial_data_fields_the_provider_does_not_declare(
    client: FlowClient,
) -> None:
    response = client.start(initial_data={"name": "Ada", "is_staff": True, "role": "admin"})
    assert response.status_code == 201
    assert response.json()["form"]["data"] == {"name": "Ada"}


def test_start_with_invalid_declared_initial_data_returns_400_invalid_request(
    client: FlowClient,
) -> None:
    response = client.start(initial_data={"email": "not an email"})
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_request"
    assert [item["field"] for item in error["errors"]] == ["initial_data.email"]


def test_start_with_non_object_initial_data_returns_400_invalid_request(
    client: FlowClient,
) -> None:
    response = client.start(initial_data=["email"])
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_request"


def test_a_start_whose_first_step_crashes_leaves_no_flow(
    client: FlowClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(self: Any, request: Any, pipeline: Any) -> Any:
        raise RuntimeError("the first step is broken")

    monkeypatch.setattr(type(onboarding.STEPS[0]), "dispatch", crash)
    client.raw.raise_request_exception = False

    assert client.start().status_code == 500
    assert not Flow.objects.exists()


def test_a_start_whose_first_step_is_refused_leaves_no_flow(
    client: FlowClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def too_much(self: Any, request: Any, pipeline: Any) -> Any:
        raise StateTooLarge()

    monkeypatch.setattr(type(onboarding.STEPS[0]), "dispatch", too_much)

    response = client.start()

    assert (response.status_code, error_of(response)["code"]) == (413, "state_too_large")
    assert not Flow.objects.exists()


class _Profile(serializers.Serializer[Any]):
    email = serializers.EmailField()
    name = serializers.CharField()


def test_start_with_part_of_the_declared_initial_data_prefills_that_part(
    client: FlowClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(DefaultOnboardingProvider, "initial_data_serializer", _Profile)

    response = client.start(initial_data={"name": "Ada"})

    assert response.status_code == 201
    assert response.json()["form"]["data"] == {"name": "Ada"}


class _Measures(serializers.Serializer[Any]):
    height = serializers.FloatField(required=False)


@pytest.mark.parametrize("value", ["nan", "1e400", "-inf"])
def test_start_with_a_declared_float_json_cannot_carry_returns_400(
    client: FlowClient, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setattr(DefaultOnboardingProvider, "initial_data_serializer", _Measures)

    response = client.start(initial_data={"height": value})

    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_request"
    assert error["errors"] == [
        {"code": "invalid", "message": "Enter a finite number.", "field": "initial_data.height"}
    ]
    assert not Flow.objects.exists()


class _Preferences(serializers.Serializer[Any]):
    topics = serializers.MultipleChoiceField(choices=["news", "tips"])
    invite_code = serializers.CharField(write_only=True)


def test_start_keeps_declared_initial_data_as_json_write_only_fields_included(
    client: FlowClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(DefaultOnboardingProvider, "initial_data_serializer", _Preferences)
    initial = {"topics": ["tips", "news"], "invite_code": "c0de"}

    response = client.start(initial_data=initial)

    assert response.status_code == 201
    state = DatabaseStore().load(response.json()["id"])
    assert state is not None
    assert state.frame.data[INITIAL_DATA_KEY] == {
        "topics": ["news", "tips"],
        "invite_code": "c0de",
    }


# -- show -------------------------------------------------------------------------------------


def test_get_returns_the_current_step(client: FlowClient, at_company: dict[str, Any]) -> None:
    response = client.show(at_company["id"])
    assert response.status_code == 200
    assert response.json() == at_company


def test_get_does_not_change_the_version(client: FlowClient, started: dict[str, Any]) -> None:
    client.show(started["id"])
    assert position(client, started["id"]) == ("profile", 1)


@pytest.mark.parametrize(
    "flow_id",
    [
        uuid.uuid4().hex,
        "0" * 32,
        "not-a-flow",
        "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
        "a" * 500,
        "9" * 65,
        "%00",
        "..",
        "%E2%98%83",
        "1;DROP TABLE pipeline_flow",
        "' OR '1'='1",
    ],
)
def test_unknown_flow_id_returns_404_pipeline_not_found(client: FlowClient, flow_id: str) -> None:
    response = client.show(flow_id)
    assert response.status_code == 404
    assert error_of(response)["code"] == "pipeline_not_found"


def test_unknown_flow_id_returns_404_on_every_method(client: FlowClient) -> None:
    flow_id = uuid.uuid4().hex
    answers = [
        client.post(flow_url(flow_id), {"version": 1, "data": {}}),
        client.post(back_url(flow_id), {"version": 1}),
        client.delete(flow_url(flow_id)),
    ]
    assert [response.status_code for response in answers] == [404, 404, 404]
    assert {error_of(response)["code"] for response in answers} == {"pipeline_not_found"}


# -- submit -----------------------------------------------------------------------------------


def test_submit_returns_200_with_the_next_step(
    client: FlowClient, started: dict[str, Any]
) -> None:
    response = client.submit(started, PROFILE)
    assert response.status_code == 200
    body = response.json()
    assert body["step"]["name"] == "company"
    assert body["step"]["index"] == 1
    assert body["step"]["version"] == started["step"]["version"] + 1
    assert body["errors"] == []


def test_submit_of_invalid_data_returns_400_with_the_same_step_and_errors(
    client: FlowClient, started: dict[str, Any]
) -> None:
    response = client.submit(started, {"email": "not an email"})
    assert response.status_code == 400
    body = response.json()
    assert body["id"] == started["id"]
    assert body["kind"] == "form"
    assert body["step"] == started["step"]
    assert body["errors"] == [
        {"code": "invalid", "message": "Enter a valid email address.", "field": "email"},
        {"code": "required", "message": "This field is required.", "field": "name"},
    ]


def test_submit_of_invalid_data_keeps_what_was_sent_in_form_data(
    client: FlowClient, started: dict[str, Any]
) -> None:
    sent = {"email": "not an email", "name": "Ada", "undeclared": "dropped"}
    body = client.submit(started, sent).json()
    assert body["form"]["data"] == {"email": "not an email", "name": "Ada"}


def test_submit_of_invalid_data_moves_nothing(client: FlowClient, started: dict[str, Any]) -> None:
    client.submit(started, {"email": "not an email", "name": "Ada"})
    assert position(client, started["id"]) == ("profile", started["step"]["version"])


def test_submit_of_invalid_data_binds_nothing(client: FlowClient, started: dict[str, Any]) -> None:
    client.submit(started, {"email": "ada@example.com", "name": ""})
    # The valid email was not bound: a fresh GET prefills nothing.
    assert client.show(started["id"]).json()["form"]["data"] == {}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"data": PROFILE}, "version"),
        ({"version": None, "data": PROFILE}, "version"),
        ({"version": 0, "data": PROFILE}, "version"),
        ({"version": -1, "data": PROFILE}, "version"),
        ({"version": 2**31, "data": PROFILE}, "version"),
        ({"version": 10**30, "data": PROFILE}, "version"),
        ({"version": "one", "data": PROFILE}, "version"),
        ({"version": "1", "data": PROFILE}, "version"),
        ({"version": 1.5, "data": PROFILE}, "version"),
        ({"version": True, "data": PROFILE}, "version"),
        ({"version": [1], "data": PROFILE}, "version"),
        ({"version": 1, "data": ["email"]}, "data"),
        ({"version": 1, "data": "email=ada"}, "data"),
        ({"version": 1, "data": None}, "data"),
    ],
)
def test_malformed_submit_returns_400_invalid_request_naming_the_field(
    client: FlowClient, started: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    response = client.post(flow_url(started["id"]), body)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_request"
    assert [item["field"] for item in error["errors"]] == [field]
    assert position(client, started["id"]) == ("profile", 1)


def test_submit_with_a_list_body_returns_400_invalid_request(
    client: FlowClient, started: dict[str, Any]
) -> None:
    response = client.post(flow_url(started["id"]), [{"version": 1, "data": PROFILE}])
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_request"


def test_submit_with_bad_json_returns_400_parse_error(
    client: FlowClient, started: dict[str, Any]
) -> None:
    response = client.raw.post(
        flow_url(started["id"]),
        '{"version": 1, "data": {',
        content_type="application/json",
        HTTP_X_CSRFTOKEN=client.csrf_token,
    )
    assert response.status_code == 400
    assert error_of(response)["code"] == "parse_error"


def test_submit_without_data_is_an_empty_submission(
    client: FlowClient, started: dict[str, Any]
) -> None:
    response = client.post(flow_url(started["id"]), {"version": 1})
    assert response.status_code == 400
    assert codes(response.json()) == ["required", "required"]


def test_submit_with_stale_version_returns_409_with_current_descriptor(
    client: FlowClient, started: dict[str, Any], at_company: dict[str, Any]
) -> None:
    response = client.submit(started, PROFILE)
    assert response.status_code == 409
    body = response.json()
    assert body["step"]["name"] == "company"
    assert body["step"]["version"] == at_company["step"]["version"]
    assert codes(body) == ["stale_version"]
    assert body["errors"][0]["field"] is None


def test_submit_with_a_version_from_the_future_returns_409_stale_version(
    client: FlowClient, started: dict[str, Any]
) -> None:
    response = client.post(flow_url(started["id"]), {"version": 99, "data": PROFILE})
    assert response.status_code == 409
    assert codes(response.json()) == ["stale_version"]
    assert position(client, started["id"]) == ("profile", 1)


def test_stale_submit_changes_nothing(
    client: FlowClient, started: dict[str, Any], at_company: dict[str, Any]
) -> None:
    client.submit(started, {"email": "eve@example.com", "name": "Eve"})
    assert position(client, started["id"]) == ("company", at_company["step"]["version"])
    back = client.back(at_company).json()
    assert back["form"]["data"] == PROFILE


def test_submit_of_the_last_step_returns_the_complete_descriptor(
    client: FlowClient, at_confirm: dict[str, Any]
) -> None:
    response = client.submit(at_confirm, CONFIRM)
    assert response.status_code == 200
    body = response.json()
    assert body["kind"] == "complete"
    assert body["status"] == "complete"
    assert body["result"] == RESULT


def test_a_completed_flow_can_still_be_shown(
    client: FlowClient, at_confirm: dict[str, Any]
) -> None:
    done = client.submit(at_confirm, CONFIRM).json()
    response = client.show(done["id"])
    assert response.status_code == 200
    assert response.json() == done


def test_a_completed_flow_keeps_its_result_and_drops_what_it_bound(
    client: FlowClient, at_confirm: dict[str, Any]
) -> None:
    done = client.submit(at_confirm, CONFIRM).json()
    row = Flow.objects.get(pk=done["id"])
    assert (row.result, row.data, row.child) == (done["result"], {}, None)
    assert client.show(done["id"]).json() == done


@pytest.mark.parametrize("action", ["submit", "back", "cancel"])
def test_acting_on_a_completed_flow_returns_409_pipeline_finished(
    client: FlowClient, at_confirm: dict[str, Any], action: str
) -> None:
    done = client.submit(at_confirm, CONFIRM).json()
    if action == "submit":
        response = client.submit(done, CONFIRM)
    elif action == "back":
        response = client.back(done)
    else:
        response = client.cancel(done["id"])
    assert response.status_code == 409
    body = response.json()
    assert body["kind"] == "complete"
    assert body["result"] == RESULT
    assert codes(body) == ["pipeline_finished"]
    assert body["actions"] == []


def test_submit_with_an_old_version_after_completion_returns_409_pipeline_finished(
    client: FlowClient, at_confirm: dict[str, Any]
) -> None:
    client.submit(at_confirm, CONFIRM)
    response = client.submit(at_confirm, CONFIRM)
    assert response.status_code == 409
    assert codes(response.json()) == ["pipeline_finished"]


# -- back -------------------------------------------------------------------------------------


def test_back_returns_the_previous_step_prefilled(
    client: FlowClient, at_company: dict[str, Any]
) -> None:
    response = client.back(at_company)
    assert response.status_code == 200
    body = response.json()
    assert body["step"]["name"] == "profile"
    assert body["step"]["index"] == 0
    assert body["step"]["version"] == at_company["step"]["version"] + 1
    assert body["form"]["data"] == PROFILE


def test_back_then_submit_goes_forward_again_with_the_new_values(
    client: FlowClient, at_company: dict[str, Any]
) -> None:
    profile = client.back(at_company).json()
    company = client.submit(profile, {"email": "grace@example.com", "name": "Grace"}).json()
    company = client.submit(company, COMPANY).json()
    done = client.submit(company, CONFIRM).json()
    assert done["result"]["email"] == "grace@example.com"


def test_back_on_the_first_step_returns_400_back_not_allowed(
    client: FlowClient, started: dict[str, Any]
) -> None:
    response = client.back(started)
    assert response.status_code == 400
    assert error_of(response)["code"] == "back_not_allowed"
    assert position(client, started["id"]) == ("profile", 1)


def test_back_with_stale_version_returns_409_stale_version(
    client: FlowClient, started: dict[str, Any], at_company: dict[str, Any]
) -> None:
    response = client.post(back_url(at_company["id"]), {"version": started["step"]["version"]})
    assert response.status_code == 409
    assert codes(response.json()) == ["stale_version"]
    assert position(client, at_company["id"]) == ("company", at_company["step"]["version"])


def test_a_version_written_as_json_writes_a_whole_number_is_taken(
    client: FlowClient, started: dict[str, Any]
) -> None:
    response = client.post(flow_url(started["id"]), {"version": 1.0, "data": PROFILE})
    assert response.status_code == 200, response.json()
    assert response.json()["step"]["name"] == "company"


@pytest.mark.parametrize("body", [{}, {"version": "x"}, {"version": "2"}, {"version": 0}, []])
def test_malformed_back_returns_400_invalid_request(
    client: FlowClient, at_company: dict[str, Any], body: Any
) -> None:
    response = client.post(back_url(at_company["id"]), body)
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_request"


# -- cancel -----------------------------------------------------------------------------------


def test_cancel_returns_204_with_no_body(client: FlowClient, started: dict[str, Any]) -> None:
    response = client.cancel(started["id"])
    assert response.status_code == 204
    assert response.content == b""


def test_a_cancelled_flow_drops_what_it_bound(
    client: FlowClient, at_company: dict[str, Any]
) -> None:
    assert Flow.objects.get(pk=at_company["id"]).data == {"profile": PROFILE}
    client.cancel(at_company["id"])
    row = Flow.objects.get(pk=at_company["id"])
    assert (row.status, row.data) == ("cancelled", {})


@pytest.mark.parametrize("action", ["show", "submit", "back", "cancel"])
def test_a_cancelled_flow_returns_410_pipeline_cancelled_with_restart(
    client: FlowClient, at_company: dict[str, Any], action: str
) -> None:
    client.cancel(at_company["id"])
    response = act(client, at_company, action)
    assert response.status_code == 410
    error = error_of(response)
    assert error["code"] == "pipeline_cancelled"
    assert error["restart"] == {"pipeline": "onboarding", "provider": "default"}


# -- expiry -----------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["show", "submit", "back", "cancel"])
def test_a_flow_unchanged_for_its_ttl_returns_410_pipeline_expired(
    client: FlowClient, clock: time_machine.Traveller, action: str
) -> None:
    descriptor = client.submit(client.start().json(), PROFILE).json()
    clock.shift(3601)
    response = act(client, descriptor, action)
    assert response.status_code == 410
    error = error_of(response)
    assert error["code"] == "pipeline_expired"
    assert error["restart"] == {"pipeline": "onboarding", "provider": "default"}


def test_a_flow_is_alive_just_before_its_ttl(
    client: FlowClient, clock: time_machine.Traveller
) -> None:
    descriptor = client.start().json()
    clock.shift(3599)
    assert client.show(descriptor["id"]).status_code == 200


@override_settings(PIPELINE_TTL=120)
def test_expires_at_is_start_plus_ttl(client: FlowClient, clock: time_machine.Traveller) -> None:
    assert client.start().json()["expires_at"] == "2026-11-22T09:02:00Z"


@override_settings(PIPELINE_TTL=120)
def test_expires_at_moves_with_every_change(
    client: FlowClient, clock: time_machine.Traveller
) -> None:
    started = client.start().json()
    clock.shift(100)
    moved = client.submit(started, PROFILE).json()
    assert moved["expires_at"] == "2026-11-22T09:03:40Z"
    clock.shift(100)
    assert client.show(started["id"]).status_code == 200


@override_settings(PIPELINE_TTL=120)
def test_showing_a_flow_does_not_extend_it(
    client: FlowClient, clock: time_machine.Traveller
) -> None:
    started = client.start().json()
    clock.shift(100)
    assert client.show(started["id"]).json()["expires_at"] == "2026-11-22T09:02:00Z"
    clock.shift(21)
    assert client.show(started["id"]).status_code == 410


@override_settings(PIPELINE_TTL=120)
def test_invalid_data_does_not_extend_a_flow(
    client: FlowClient, clock: time_machine.Traveller
) -> None:
    started = client.start().json()
    clock.shift(100)
    refused = client.submit(started, {"email": "nope"})
    assert refused.json()["expires_at"] == "2026-11-22T09:02:00Z"


# -- outdated ---------------------------------------------------------------------------------


def test_a_flow_whose_steps_changed_returns_410_pipeline_outdated(
    client: FlowClient, started: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(onboarding, "STEPS", onboarding.STEPS[:2])
    response = client.show(started["id"])
    assert response.status_code == 410
    error = error_of(response)
    assert error["code"] == "pipeline_outdated"
    assert error["restart"] == {"pipeline": "onboarding", "provider": "default"}


def test_submitting_to_a_flow_whose_steps_were_reordered_returns_410_pipeline_outdated(
    client: FlowClient, started: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    reordered = (onboarding.STEPS[1], onboarding.STEPS[0], onboarding.STEPS[2])
    monkeypatch.setattr(DefaultOnboardingProvider, "get_pipeline_views", lambda self: reordered)
    response = client.submit(started, PROFILE)
    assert response.status_code == 410
    assert error_of(response)["code"] == "pipeline_outdated"


def test_a_flow_whose_provider_is_gone_returns_410_pipeline_outdated(
    client: FlowClient, started: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(onboarding.manager._providers, "default")
    response = client.show(started["id"])
    assert response.status_code == 410
    assert error_of(response) == {
        "code": "pipeline_outdated",
        "message": "This provider is no longer offered for this pipeline.",
        "restart": {"pipeline": "onboarding", "provider": "default"},
    }


def test_a_flow_whose_pipeline_is_gone_returns_410_pipeline_outdated(
    client: FlowClient, started: dict[str, Any]
) -> None:
    with override_settings(PIPELINE_CLASSES=["backend.identity.pipeline.IdentityPipeline"]):
        response = client.show(started["id"])
    assert response.status_code == 410
    assert error_of(response) == {
        "code": "pipeline_outdated",
        "message": "This pipeline is no longer offered.",
        "restart": {"pipeline": "onboarding", "provider": "default"},
    }


def test_a_started_flow_is_fine_when_its_steps_are_unchanged(
    client: FlowClient, started: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(onboarding, "STEPS", tuple(onboarding.STEPS))
    assert client.show(started["id"]).status_code == 200


# -- callback ---------------------------------------------------------------------------------


def test_callback_with_a_state_no_flow_issued_is_refused_as_json(client: FlowClient) -> None:
    response = client.get(f"{API}callback/?state=abc&code=xyz", HTTP_ACCEPT="application/json")
    assert response.status_code == 400
    assert error_of(response)["code"] == "state_unknown"


def test_callback_with_a_state_no_flow_issued_sends_the_browser_back_with_the_error(
    client: FlowClient,
) -> None:
    response = client.get(f"{API}callback/?state=abc&code=xyz", HTTP_ACCEPT="text/html,*/*")
    assert response.status_code == 302
    assert response["Location"] == "/?error=state_unknown"


# -- the descriptor ---------------------------------------------------------------------------


def test_descriptor_has_every_documented_key(started: dict[str, Any]) -> None:
    assert set(started) == {
        "id",
        "pipeline",
        "provider",
        "status",
        "expires_at",
        "step",
        "kind",
        "title",
        "description",
        "form",
        "errors",
        "actions",
        "token",
    }
    assert set(started["step"]) == {"name", "index", "total", "version", "path"}
    assert set(started["form"]) == {"schema", "ui_schema", "data"}


def test_descriptor_id_is_32_lowercase_hex(started: dict[str, Any]) -> None:
    assert re.fullmatch(r"[0-9a-f]{32}", started["id"])


def test_step_counts_from_zero_out_of_the_total(
    client: FlowClient, started: dict[str, Any]
) -> None:
    seen = []
    descriptor = started
    for data in (PROFILE, COMPANY, CONFIRM):
        step = descriptor["step"]
        seen.append((step["name"], step["index"], step["total"]))
        descriptor = client.submit(descriptor, data).json()
    assert seen == [("profile", 0, 3), ("company", 1, 3), ("confirm", 2, 3)]


def test_step_path_has_one_entry_for_a_flat_pipeline(at_company: dict[str, Any]) -> None:
    assert at_company["step"]["path"] == [
        {
            "pipeline": "onboarding",
            "provider": "default",
            "name": "company",
            "index": 1,
            "total": 3,
        }
    ]


def test_version_grows_by_one_on_every_move(client: FlowClient, started: dict[str, Any]) -> None:
    company = client.submit(started, PROFILE).json()
    profile = client.back(company).json()
    company_again = client.submit(profile, PROFILE).json()
    versions = [d["step"]["version"] for d in (started, company, profile, company_again)]
    assert versions == [1, 2, 3, 4]


def test_first_step_actions_are_submit_and_cancel(started: dict[str, Any]) -> None:
    href = flow_url(started["id"])
    assert started["actions"] == [
        {"name": "submit", "method": "POST", "href": href},
        {"name": "cancel", "method": "DELETE", "href": href},
    ]


def test_later_step_actions_are_submit_back_and_cancel(at_company: dict[str, Any]) -> None:
    flow_id = at_company["id"]
    assert at_company["actions"] == [
        {"name": "submit", "method": "POST", "href": flow_url(flow_id)},
        {"name": "back", "method": "POST", "href": back_url(flow_id)},
        {"name": "cancel", "method": "DELETE", "href": flow_url(flow_id)},
    ]


def test_actions_of_an_invalid_submission_are_those_of_the_step(
    client: FlowClient, at_company: dict[str, Any]
) -> None:
    refused = client.submit(at_company, {"company": "", "size": "xl"}).json()
    assert refused["actions"] == at_company["actions"]


def test_expires_at_is_iso_8601_utc_ending_in_z(started: dict[str, Any]) -> None:
    expires_at = started["expires_at"]
    assert expires_at.endswith("Z")
    parsed = datetime.fromisoformat(expires_at)
    assert parsed.utcoffset() is not None
    assert parsed.utcoffset() == UTC.utcoffset(None)


def test_form_descriptor_carries_schema_ui_schema_and_data(started: dict[str, Any]) -> None:
    form = started["form"]
    assert form["schema"]["type"] == "object"
    assert form["schema"]["required"] == ["email", "name"]
    assert form["schema"]["properties"]["email"]["format"] == "email"
    assert form["ui_schema"]["ui:order"] == ["email", "name"]
    assert form["data"] == {}


def test_title_and_description_come_from_the_step(at_confirm: dict[str, Any]) -> None:
    assert at_confirm["title"] == "Confirm"
    assert at_confirm["description"] == "Check the terms and finish."


def test_complete_descriptor_has_result_and_no_actions(
    client: FlowClient, at_confirm: dict[str, Any]
) -> None:
    done = client.submit(at_confirm, CONFIRM).json()
    assert done["kind"] == "complete"
    assert done["status"] == "complete"
    assert done["result"] == RESULT
    assert done["actions"] == []
    assert done["errors"] == []
    assert "form" not in done


def test_complete_descriptor_counts_every_step_as_done(
    client: FlowClient, at_confirm: dict[str, Any]
) -> None:
    step = client.submit(at_confirm, CONFIRM).json()["step"]
    assert (step["index"], step["total"]) == (3, 3)
    assert step["version"] > at_confirm["step"]["version"]


def test_start_prefills_the_first_step_from_initial_data(client: FlowClient) -> None:
    body = client.start(initial_data={"email": "ada@example.com", "name": "Ada"}).json()
    assert body["form"]["data"] == PROFILE


# -- the error kind ---------------------------------------------------------------------------


@pytest.fixture
def failed(user_client: FlowClient, other_client: FlowClient, other_user: Any) -> dict[str, Any]:
    """An identity flow of `user` that failed: the account is another user's already."""
    other_client.login("grace", "hopper-1906")
    theirs = other_client.start("identity", "dummy").json()
    assert other_client.submit(theirs, {"email": "shared@example.com"}).status_code == 200
    mine = user_client.start("identity", "dummy").json()
    response = user_client.submit(mine, {"email": "shared@example.com"})
    assert response.status_code == 200
    descriptor: dict[str, Any] = response.json()
    return descriptor


def test_a_failing_finish_answers_the_error_descriptor(failed: dict[str, Any]) -> None:
    assert failed["kind"] == "error"
    assert failed["status"] == "failed"
    assert failed["errors"] == [
        {
            "code": "identity_already_linked",
            "message": "This account is already linked to another user.",
            "field": None,
        }
    ]
    assert failed["actions"] == []
    assert "result" not in failed


def test_a_failed_flow_can_still_be_shown(user_client: FlowClient, failed: dict[str, Any]) -> None:
    response = user_client.show(failed["id"])
    assert response.status_code == 200
    assert response.json() == failed


def test_submitting_to_a_failed_flow_returns_409_pipeline_finished(
    user_client: FlowClient, failed: dict[str, Any]
) -> None:
    response = user_client.submit(failed, {"email": "mine@example.com"})
    assert response.status_code == 409
    assert codes(response.json()) == ["identity_already_linked", "pipeline_finished"]


def test_cancelling_a_failed_flow_returns_409_pipeline_finished(
    user_client: FlowClient, failed: dict[str, Any]
) -> None:
    response = user_client.cancel(failed["id"])
    assert response.status_code == 409
    assert "pipeline_finished" in codes(response.json())


# -- identity ---------------------------------------------------------------------------------


def test_identity_flow_completes_with_the_linked_identity(user_client: FlowClient) -> None:
    started = user_client.start("identity", "dummy").json()
    assert started["actions"][0]["name"] == "submit"
    assert [a["name"] for a in started["actions"]] == ["submit", "cancel"]
    done = user_client.submit(started, {"email": "ada@example.com"})
    assert done.status_code == 200
    identity = done.json()["result"]["identity"]
    assert identity["provider"] == "dummy"
    assert identity["external_id"] == "ada@example.com"


def test_back_on_a_single_step_flow_returns_400_back_not_allowed(
    user_client: FlowClient,
) -> None:
    started = user_client.start("identity", "dummy").json()
    response = user_client.back(started)
    assert response.status_code == 400
    assert error_of(response)["code"] == "back_not_allowed"


def test_a_cancel_that_keeps_losing_the_race_is_a_stale_version_not_finished(
    client: FlowClient, started: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def someone_moves_it_first(self: DatabaseStore, state: Any, expected: int) -> bool:
        Flow.objects.filter(pk=uuid.UUID(state.id)).update(version=F("version") + 1)
        return False

    monkeypatch.setattr(DatabaseStore, "compare_and_set", someone_moves_it_first)
    response = client.cancel(started["id"])

    assert response.status_code == 409
    assert response.json()["status"] == "active"
    assert codes(response.json())[-1] == "stale_version"


def test_a_submit_that_loses_the_race_to_a_cancel_is_410_pipeline_cancelled(
    client: FlowClient, started: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another tab cancels the flow between this submit's read and its write.
    write = DatabaseStore.compare_and_set

    def cancelled_meanwhile(self: DatabaseStore, state: Any, expected: int) -> bool:
        Flow.objects.filter(pk=uuid.UUID(state.id)).update(
            status="cancelled", version=F("version") + 1
        )
        monkeypatch.setattr(DatabaseStore, "compare_and_set", write)
        return False

    monkeypatch.setattr(DatabaseStore, "compare_and_set", cancelled_meanwhile)
    response = client.submit(started, PROFILE)

    # "anything on a cancelled flow answers 410 pipeline_cancelled"; the
    # `error` kind is for a failed flow.
    assert response.status_code == 410, response.json()
    error = error_of(response)
    assert error["code"] == "pipeline_cancelled"
    assert error["restart"] == {"pipeline": "onboarding", "provider": "default"}


def test_a_cancel_that_loses_a_race_to_a_step_tries_again_and_cancels(
    client: FlowClient, started: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    write = DatabaseStore.compare_and_set
    lost: list[int] = []

    def a_step_moves_it_first_once(self: DatabaseStore, state: Any, expected: int) -> bool:
        if not lost:
            lost.append(expected)
            Flow.objects.filter(pk=uuid.UUID(state.id)).update(version=F("version") + 1)
            return False
        return write(self, state, expected)

    monkeypatch.setattr(DatabaseStore, "compare_and_set", a_step_moves_it_first_once)
    response = client.cancel(started["id"])

    assert response.status_code == 204
    assert lost == [started["step"]["version"]]
    assert error_of(client.show(started["id"]))["code"] == "pipeline_cancelled"
