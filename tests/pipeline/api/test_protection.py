"""CSRF on every unsafe request of a browser, and the body size limit."""

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory
from rest_framework.views import APIView

from backend.pipeline.api.protection import enforce_csrf
from backend.pipeline.errors import CsrfFailed
from tests.conftest import COMPANY, PROFILE, FlowClient

from .conftest import (
    API,
    Response,
    back_url,
    error_of,
    flow_url,
    position,
    post_raw,
    script_client,
)

# -- CSRF -------------------------------------------------------------------------------------

UnsafeCall = Callable[[APIClient, dict[str, Any]], Response]


def _start(raw: APIClient, flow: dict[str, Any]) -> Response:
    return raw.post(API, {"pipeline": "onboarding", "provider": "default"}, format="json")


def _submit(raw: APIClient, flow: dict[str, Any]) -> Response:
    return raw.post(flow_url(flow["id"]), {"version": 2, "data": COMPANY}, format="json")


def _back(raw: APIClient, flow: dict[str, Any]) -> Response:
    return raw.post(back_url(flow["id"]), {"version": 2}, format="json")


def _cancel(raw: APIClient, flow: dict[str, Any]) -> Response:
    return raw.delete(flow_url(flow["id"]))


def _login(raw: APIClient, flow: dict[str, Any]) -> Response:
    return raw.post("/api/auth/login/", {"username": "ada", "password": "x"}, format="json")


def _logout(raw: APIClient, flow: dict[str, Any]) -> Response:
    return raw.post("/api/auth/logout/", format="json")


UNSAFE_CALLS = pytest.mark.parametrize(
    "call", [_start, _submit, _back, _cancel, _login, _logout], ids=lambda c: c.__name__[1:]
)


@UNSAFE_CALLS
def test_anonymous_unsafe_request_without_csrf_token_returns_403_csrf_failed(
    client: FlowClient, at_company: dict[str, Any], call: UnsafeCall
) -> None:
    response = call(client.raw, at_company)
    assert response.status_code == 403
    assert error_of(response)["code"] == "csrf_failed"
    assert position(client, at_company["id"]) == ("company", 2)


@UNSAFE_CALLS
def test_logged_in_unsafe_request_without_csrf_token_returns_403_csrf_failed(
    user_client: FlowClient, call: UnsafeCall
) -> None:
    flow = user_client.submit(user_client.start().json(), PROFILE).json()
    response = call(user_client.raw, flow)
    assert response.status_code == 403
    assert error_of(response)["code"] == "csrf_failed"
    assert position(user_client, flow["id"]) == ("company", 2)


@UNSAFE_CALLS
def test_unsafe_request_with_a_wrong_csrf_token_returns_403_csrf_failed(
    client: FlowClient, at_company: dict[str, Any], call: UnsafeCall
) -> None:
    client.raw.credentials(HTTP_X_CSRFTOKEN="x" * 32)
    response = call(client.raw, at_company)
    assert response.status_code == 403
    assert error_of(response)["code"] == "csrf_failed"


@UNSAFE_CALLS
def test_a_made_up_flow_token_lifts_no_csrf_check_of_a_logged_in_browser(
    user_client: FlowClient, call: UnsafeCall
) -> None:
    flow = user_client.submit(user_client.start().json(), PROFILE).json()
    user_client.raw.credentials(HTTP_X_PIPELINE_TOKEN="made-up")
    response = call(user_client.raw, flow)
    assert response.status_code == 403
    assert error_of(response)["code"] == "csrf_failed"
    assert position(user_client, flow["id"]) == ("company", 2)


@pytest.mark.parametrize("call", [_start, _login, _logout], ids=lambda c: c.__name__[1:])
def test_a_flow_token_lifts_no_csrf_check_of_a_request_about_no_flow(
    client: FlowClient, started: dict[str, Any], call: UnsafeCall
) -> None:
    client.raw.credentials(HTTP_X_PIPELINE_TOKEN=started["token"])
    response = call(client.raw, started)
    assert response.status_code == 403
    assert error_of(response)["code"] == "csrf_failed"


def test_a_made_up_flow_token_lifts_no_csrf_check_of_a_script_starting_a_flow(
    db: None,
) -> None:
    response = script_client().post(
        API,
        {"pipeline": "onboarding", "provider": "default"},
        format="json",
        HTTP_X_PIPELINE_TOKEN="made-up",
    )
    assert response.status_code == 403
    assert error_of(response)["code"] == "csrf_failed"


def test_a_flow_token_lifts_no_csrf_check_on_another_views_detail_route(user: Any) -> None:
    # A project's own view, authenticated by the session like the API.
    class Widgets(APIView):
        pass

    posted = APIRequestFactory(enforce_csrf_checks=True).post(
        "/widgets/1/", {}, format="json", HTTP_X_PIPELINE_TOKEN="made-up"
    )
    posted.user = user
    request = Request(posted, parser_context={"view": Widgets(), "kwargs": {"pk": "1"}})
    with pytest.raises(CsrfFailed):
        enforce_csrf(request)


def test_unsafe_request_without_any_cookie_returns_403_csrf_failed(db: None) -> None:
    response = script_client().post(API, {"pipeline": "onboarding"}, format="json")
    assert response.status_code == 403
    assert error_of(response)["code"] == "csrf_failed"


def test_safe_requests_need_no_csrf_token(client: FlowClient, started: dict[str, Any]) -> None:
    assert client.raw.get(API).status_code == 200
    assert client.raw.get(flow_url(started["id"])).status_code == 200


def test_csrf_token_from_the_csrf_endpoint_is_accepted(client: FlowClient) -> None:
    assert client.start().status_code == 201


def test_flow_token_request_is_csrf_exempt(started: dict[str, Any]) -> None:
    response = script_client().post(
        flow_url(started["id"]),
        {"version": 1, "data": PROFILE},
        format="json",
        HTTP_X_PIPELINE_TOKEN=started["token"],
    )
    assert response.status_code == 200
    assert response.json()["step"]["name"] == "company"


def test_flow_token_request_with_the_session_cookie_is_csrf_exempt(
    client: FlowClient, started: dict[str, Any]
) -> None:
    response = client.raw.post(
        flow_url(started["id"]),
        {"version": 1, "data": PROFILE},
        format="json",
        HTTP_X_PIPELINE_TOKEN=started["token"],
    )
    assert response.status_code == 200


def test_flow_token_cancel_is_csrf_exempt(started: dict[str, Any]) -> None:
    client = script_client()
    response = client.delete(flow_url(started["id"]), HTTP_X_PIPELINE_TOKEN=started["token"])
    assert response.status_code == 204


def test_auth_token_start_is_csrf_exempt(api_token: str) -> None:
    response = script_client().post(
        API,
        {"pipeline": "identity", "provider": "dummy"},
        format="json",
        HTTP_AUTHORIZATION=f"Token {api_token}",
    )
    assert response.status_code == 201


def test_auth_token_submit_is_csrf_exempt(api_token: str) -> None:
    client = script_client()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token}")
    started = client.post(API, {"pipeline": "onboarding", "provider": "default"}, format="json")
    response = client.post(
        flow_url(started.json()["id"]), {"version": 1, "data": PROFILE}, format="json"
    )
    assert response.status_code == 200


def test_auth_token_request_with_an_anonymous_session_cookie_is_csrf_exempt(
    client: FlowClient, api_token: str
) -> None:
    response = client.raw.post(
        API,
        {"pipeline": "identity", "provider": "dummy"},
        format="json",
        HTTP_AUTHORIZATION=f"Token {api_token}",
    )
    assert response.status_code == 201


def test_logged_in_browser_request_with_the_flow_token_is_csrf_exempt(
    user_client: FlowClient,
) -> None:
    started = user_client.start("identity", "dummy").json()
    response = user_client.raw.post(
        flow_url(started["id"]),
        {"version": 1, "data": {"email": "ada@example.com"}},
        format="json",
        HTTP_X_PIPELINE_TOKEN=started["token"],
    )
    assert response.status_code == 200
    assert response.json()["status"] == "complete"


def test_logged_in_browser_request_with_an_auth_token_is_csrf_exempt(
    user_client: FlowClient, api_token: str
) -> None:
    response = user_client.raw.post(
        API,
        {"pipeline": "onboarding", "provider": "default"},
        format="json",
        HTTP_AUTHORIZATION=f"Token {api_token}",
    )
    assert response.status_code == 201


def test_a_wrong_auth_token_is_refused_with_an_envelope(db: None) -> None:
    response = script_client().post(
        API,
        {"pipeline": "onboarding", "provider": "default"},
        format="json",
        HTTP_AUTHORIZATION="Token not-a-token",
    )
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert error_of(response)["code"] == "authentication_failed"


def test_a_wrong_auth_token_is_refused_even_where_the_session_cookie_opens_the_flow(
    client: FlowClient, started: dict[str, Any]
) -> None:
    response = client.get(flow_url(started["id"]), HTTP_AUTHORIZATION="Token not-a-token")
    assert response.status_code == 401
    assert error_of(response)["code"] == "authentication_failed"


@pytest.mark.parametrize("scheme", ["token", "TOKEN"])
def test_an_auth_token_whose_scheme_is_spelled_otherwise_is_csrf_exempt_too(
    api_token: str, scheme: str
) -> None:
    # An auth scheme is case-insensitive (RFC 9110), and DRF authenticates
    # `token <key>` as it does `Token <key>`: the request is authenticated
    # by a header token, so the protocol makes it CSRF-exempt.
    response = script_client().post(
        API,
        {"pipeline": "identity", "provider": "dummy"},
        format="json",
        HTTP_AUTHORIZATION=f"{scheme} {api_token}",
    )
    assert response.status_code == 201, response.content


def test_a_token_header_without_a_key_is_refused_as_a_bad_token(db: None) -> None:
    # DRF refuses `Token` alone as a bad token header (401); a script whose
    # key is missing must hear that, not that its CSRF token is.
    response = script_client().post(
        API,
        {"pipeline": "onboarding", "provider": "default"},
        format="json",
        HTTP_AUTHORIZATION="Token",
    )
    assert response.status_code == 401, response.content
    assert error_of(response)["code"] == "authentication_failed"


@pytest.mark.parametrize("credentials", ["Basic YWRhOmxvdmVsYWNl", "Bearer abc", "Tokenish x"])
def test_an_authorization_header_other_than_a_token_lifts_no_csrf_check(
    client: FlowClient, at_company: dict[str, Any], credentials: str
) -> None:
    # A browser sends cached Basic credentials on a cross-site request by itself.
    response = client.raw.post(
        flow_url(at_company["id"]),
        {"version": 2, "data": COMPANY},
        format="json",
        HTTP_AUTHORIZATION=credentials,
    )
    assert response.status_code == 403
    assert error_of(response)["code"] == "csrf_failed"
    assert position(client, at_company["id"]) == ("company", 2)


# -- body size --------------------------------------------------------------------------------


def _body_of_size(size: int) -> str:
    """A valid submit body of exactly `size` bytes."""
    prefix = '{"version": 1, "data": {"email": "ada@example.com", "name": "'
    suffix = '"}}'
    body = prefix + "x" * (size - len(prefix) - len(suffix)) + suffix
    assert len(body.encode()) == size
    return body


@override_settings(PIPELINE_MAX_BODY_SIZE=200)
def test_submit_body_over_the_limit_returns_413_payload_too_large(
    client: FlowClient, started: dict[str, Any]
) -> None:
    response = post_raw(client, flow_url(started["id"]), _body_of_size(201))
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"
    assert position(client, started["id"]) == ("profile", 1)


@override_settings(PIPELINE_MAX_BODY_SIZE=200)
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_a_body_over_the_limit_returns_413_whatever_its_type(
    client: FlowClient, started: dict[str, Any], content_type: str
) -> None:
    response = post_raw(client, flow_url(started["id"]), "x=" + "y" * 298, content_type)
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"
    assert position(client, started["id"]) == ("profile", 1)


@override_settings(PIPELINE_MAX_BODY_SIZE=200)
def test_submit_body_at_the_limit_is_read(client: FlowClient, started: dict[str, Any]) -> None:
    response = post_raw(client, flow_url(started["id"]), _body_of_size(200))
    # Read and validated: the name is too long for the field, not the body for the API.
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "max_length"


@override_settings(PIPELINE_MAX_BODY_SIZE=1024)
def test_start_body_over_the_limit_returns_413_payload_too_large(client: FlowClient) -> None:
    body = {"pipeline": "onboarding", "provider": "default", "initial_data": {"x": "y" * 2000}}
    response = client.post(API, body)
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"


@override_settings(PIPELINE_MAX_BODY_SIZE=1024)
def test_back_body_over_the_limit_returns_413_payload_too_large(
    client: FlowClient, at_company: dict[str, Any]
) -> None:
    response = client.post(back_url(at_company["id"]), {"version": 2, "pad": "x" * 2000})
    assert response.status_code == 413
    assert position(client, at_company["id"]) == ("company", 2)


@override_settings(PIPELINE_MAX_BODY_SIZE=1024)
def test_login_body_over_the_limit_returns_413_payload_too_large(client: FlowClient) -> None:
    response = client.post("/api/auth/login/", {"username": "ada", "password": "x" * 2000})
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"


def test_a_megabyte_body_returns_413_under_the_default_limit(
    client: FlowClient, started: dict[str, Any]
) -> None:
    body = json.dumps({"version": 1, "data": {"email": "a@example.com", "name": "x" * 2**20}})
    response = post_raw(client, flow_url(started["id"]), body)
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"
    assert position(client, started["id"]) == ("profile", 1)


@override_settings(PIPELINE_MAX_BODY_SIZE=100)
def test_a_get_is_answered_whatever_body_it_carries(
    client: FlowClient, started: dict[str, Any]
) -> None:
    # Never read, so never refused: a GET answers what its operation documents.
    response = client.raw.generic("GET", flow_url(started["id"]), "x" * 200)
    assert response.status_code == 200


@override_settings(PIPELINE_MAX_BODY_SIZE=100)
def test_body_limit_applies_to_flow_token_requests(started: dict[str, Any]) -> None:
    response = script_client().post(
        flow_url(started["id"]),
        {"version": 1, "data": {"email": "a@example.com", "name": "x" * 200}},
        format="json",
        HTTP_X_PIPELINE_TOKEN=started["token"],
    )
    assert response.status_code == 413


def test_no_answer_about_a_client_may_be_kept_by_a_cache(client: FlowClient, user: Any) -> None:
    # An anonymous step reads no session, so nothing else says its answer is one client's.
    started = client.start()
    flow = started.json()
    answers = {
        "csrf": client.get("/api/auth/csrf/"),
        "start": started,
        "show": client.show(flow["id"]),
        "refused": client.submit(flow, {"email": "nope"}),
        "cancel": client.cancel(flow["id"]),
        "not found": client.show("nope"),
        "callback": client.get("/api/pipelines/callback/?state=forged"),
        "me": client.get("/api/auth/me/"),
        "login": client.login("ada", "lovelace-1815"),
        "logout": client.post("/api/auth/logout/"),
    }
    statuses = [answer.status_code for answer in answers.values()]
    assert statuses == [200, 201, 200, 400, 204, 404, 302, 200, 200, 204]
    assert {
        name: answer.get("Cache-Control") for name, answer in answers.items()
    } == dict.fromkeys(answers, "no-store")
