"""OAuth2 identity steps: authorize redirect, code exchange, failures, state.

The generic OAuth2 provider is exercised through the local provider with a
`base_url`, so its endpoints are fixed and mocked with `responses`; the
presets and the local provider have tests of their own.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import requests
import responses
import time_machine
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from backend.identity.models import Identity, IdentityProvider
from backend.identity.oauth2 import ATTEMPT_KEY, OAuth2Provider, OAuthFailure
from backend.identity.pipeline import IdentityPipeline
from backend.identity.presets import GitHubProvider
from backend.identity.services import provider_for
from backend.pipeline.requests import query_request
from backend.pipeline.store import get_store
from tests.conftest import FlowClient, query_of, state_of
from tests.identity.conftest import (
    AUTHORIZE_URL,
    CALLBACK_URL,
    ISSUER,
    LOCAL,
    MESSAGES,
    SCOPED,
    TEST_PIPELINES,
    TOKEN,
    TOKEN_URL,
    USER,
    USER_URL,
    CustomIdentityPipeline,
    answer_token,
    answer_user,
    api_request,
    assert_back_at_login,
    basic,
    calls_to,
    come_back,
    form_of,
    redirect_url,
    s256,
    start,
)
from tests.pipeline.api.conftest import error_of

pytestmark = pytest.mark.usefixtures("local_provider")

Mock = responses.RequestsMock


def linked(client: FlowClient, mock: Mock) -> dict[str, Any]:
    """A flow taken through a successful callback: its final descriptor."""
    started = start(client)
    answer_token(mock)
    answer_user(mock)
    done = come_back(client, code="abc", state=state_of(started))
    assert done.status_code == 200, done.content
    descriptor: dict[str, Any] = done.json()
    return descriptor


def fail_once(client: FlowClient, **params: str) -> tuple[str, dict[str, Any]]:
    """A flow's callback, sent with `params`: (the spent state, the answer)."""
    started = start(client)
    state = state_of(started)
    answer = come_back(client, state=state, **params)
    assert answer.status_code == 200, answer.content
    descriptor: dict[str, Any] = answer.json()
    return state, descriptor


# -- the authorize redirect ------------------------------------------------------------


def test_the_login_step_sends_the_browser_to_the_providers_authorize_endpoint(
    user_client: FlowClient,
) -> None:
    started = start(user_client)
    assert (started["status"], started["kind"]) == ("active", "redirect")
    assert redirect_url(started).split("?")[0] == AUTHORIZE_URL


def test_the_authorize_url_asks_for_a_code_for_our_client_back_at_our_callback(
    user_client: FlowClient,
) -> None:
    params = query_of(redirect_url(start(user_client)))
    assert params["response_type"] == "code"
    assert params["client_id"] == "cid"
    assert params["redirect_uri"] == CALLBACK_URL


def test_the_authorize_url_carries_the_oauth_parameters_and_no_secret(
    user_client: FlowClient,
) -> None:
    url = redirect_url(start(user_client))
    assert set(query_of(url)) == {
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "code_challenge",
        "code_challenge_method",
    }
    assert "sec" not in query_of(url).values()


def test_the_authorize_url_asks_for_the_providers_scopes(user_client: FlowClient) -> None:
    assert query_of(redirect_url(start(user_client)))["scope"] == "profile"


@override_settings(PIPELINE_CLASSES=TEST_PIPELINES)
def test_oauth_scopes_in_the_pipeline_config_replace_the_providers_scopes(
    user_client: FlowClient,
) -> None:
    started = user_client.start("scoped", "scoped").json()
    assert started["step"]["name"] == "login"
    assert query_of(redirect_url(started))["scope"] == " ".join(SCOPED)


def _scopes(config: dict[str, Any]) -> list[str]:
    provider = IdentityPipeline(api_request(), "local", config=config).provider
    assert isinstance(provider, OAuth2Provider)
    return provider.get_oauth_scopes()


def test_the_providers_scopes_come_from_the_config_when_it_names_them() -> None:
    assert _scopes({"oauth_scopes": ["a", "b"]}) == ["a", "b"]
    assert _scopes({}) == ["profile"]


def test_each_flow_sends_a_long_random_state_of_its_own(user_client: FlowClient) -> None:
    first, second = state_of(start(user_client)), state_of(start(user_client))
    assert first != second
    assert len(first) >= 32
    assert re.fullmatch(r"[A-Za-z0-9_-]+", first)


def test_showing_the_flow_again_keeps_its_unspent_state(user_client: FlowClient) -> None:
    started = start(user_client)
    shown = user_client.show(started["id"]).json()
    assert (shown["step"]["name"], shown["kind"]) == ("login", "redirect")
    assert redirect_url(shown) == redirect_url(started)


def test_the_pkce_challenge_is_the_s256_of_the_verifier_later_sent_with_the_code(
    user_client: FlowClient, provider_http: Mock
) -> None:
    started = start(user_client)
    params = query_of(redirect_url(started))
    answer_token(provider_http)
    answer_user(provider_http)

    come_back(user_client, code="abc", state=params["state"])

    verifier = form_of(calls_to(provider_http, TOKEN_URL)[0])["code_verifier"]
    assert params["code_challenge_method"] == "S256"
    assert params["code_challenge"] == s256(verifier)


def test_the_pkce_verifier_is_a_fresh_rfc_7636_verifier_per_flow(
    user_client: FlowClient, provider_http: Mock
) -> None:
    answer_token(provider_http)
    answer_user(provider_http, body={**USER, "id": 1})
    come_back(user_client, code="abc", state=state_of(start(user_client)))
    answer_user(provider_http, body={**USER, "id": 2})
    come_back(user_client, code="abc", state=state_of(start(user_client)))

    first, second = (form_of(call)["code_verifier"] for call in calls_to(provider_http, TOKEN_URL))
    assert first != second
    assert re.fullmatch(r"[A-Za-z0-9\-._~]{43,128}", first)


# -- the token and user requests ----------------------------------------------------------


def test_the_code_is_exchanged_by_a_form_post_to_the_token_endpoint(
    user_client: FlowClient, provider_http: Mock
) -> None:
    linked(user_client, provider_http)

    (exchange,) = calls_to(provider_http, TOKEN_URL)
    assert exchange.method == "POST"
    assert exchange.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert exchange.headers["Accept"] == "application/json"
    form = form_of(exchange)
    assert set(form) == {"grant_type", "code", "redirect_uri", "code_verifier"}
    assert (form["grant_type"], form["code"]) == ("authorization_code", "abc")


def test_the_token_request_names_the_same_redirect_uri_as_the_authorize_url(
    user_client: FlowClient, provider_http: Mock
) -> None:
    started = start(user_client)
    answer_token(provider_http)
    answer_user(provider_http)

    come_back(user_client, code="abc", state=state_of(started))

    redirect_uri = form_of(calls_to(provider_http, TOKEN_URL)[0])["redirect_uri"]
    assert redirect_uri == query_of(redirect_url(started))["redirect_uri"] == CALLBACK_URL


def test_the_client_authenticates_by_http_basic_and_never_sends_its_secret_in_the_body(
    user_client: FlowClient, provider_http: Mock
) -> None:
    linked(user_client, provider_http)

    (exchange,) = calls_to(provider_http, TOKEN_URL)
    assert exchange.headers["Authorization"] == basic("cid", "sec")
    assert "client_secret" not in form_of(exchange)
    assert "sec" not in form_of(exchange).values()


@override_settings(IDENTITY_HTTP_TIMEOUT=3)
def test_the_provider_requests_wait_as_long_as_identity_http_timeout(
    user_client: FlowClient, provider_http: Mock
) -> None:
    linked(user_client, provider_http)

    (exchange,) = calls_to(provider_http, TOKEN_URL)
    (fetch,) = calls_to(provider_http, USER_URL)
    assert exchange.req_kwargs["timeout"] == 3
    assert fetch.req_kwargs["timeout"] == 3


def test_the_user_is_fetched_with_the_access_token_as_bearer(
    user_client: FlowClient, provider_http: Mock
) -> None:
    linked(user_client, provider_http)

    (fetch,) = calls_to(provider_http, USER_URL)
    assert fetch.method == "GET"
    assert fetch.headers["Authorization"] == "Bearer at-123"


# -- success -----------------------------------------------------------------------------


def test_a_successful_callback_completes_the_flow(
    user_client: FlowClient, provider_http: Mock
) -> None:
    done = linked(user_client, provider_http)

    assert (done["status"], done["kind"]) == ("complete", "complete")
    assert done["errors"] == []
    assert done["actions"] == []
    assert done["result"]["identity"] == {
        "id": Identity.objects.get().pk,
        "provider": "local",
        "external_id": "42",
        "email": "ada@chat.example",
        "name": "Ada",
    }


def test_a_successful_callback_links_the_user_with_the_granted_scopes(
    user_client: FlowClient, user: Any, provider_http: Mock
) -> None:
    linked(user_client, provider_http)

    identity = Identity.objects.get()
    assert identity.user == user
    assert (identity.idp.type, identity.external_id) == ("local", "42")
    assert identity.scopes == ["profile", "channels"]
    assert identity.status == "valid"
    assert identity.data["email"] == "ada@chat.example"


def test_the_token_is_kept_in_the_identity_data(
    user_client: FlowClient, provider_http: Mock
) -> None:
    linked(user_client, provider_http)

    kept = Identity.objects.get().data["data"]
    assert set(kept) == {"user", "access_token", "token_type", "refresh_token", "expires_at"}
    assert (kept["access_token"], kept["token_type"], kept["refresh_token"]) == (
        "at-123",
        "Bearer",
        "rt-456",
    )
    assert isinstance(kept["expires_at"], int)


def test_a_token_without_scope_links_an_identity_of_no_scopes(
    user_client: FlowClient, provider_http: Mock
) -> None:
    started = start(user_client)
    answer_token(provider_http, body={"access_token": "at-123", "token_type": "Bearer"})
    answer_user(provider_http)

    done = come_back(user_client, code="abc", state=state_of(started)).json()

    assert done["status"] == "complete"
    assert Identity.objects.get().scopes == []


def test_without_asking_for_json_the_browser_is_sent_back_to_the_frontend(
    user_client: FlowClient, provider_http: Mock
) -> None:
    started = start(user_client)
    answer_token(provider_http)
    answer_user(provider_http)

    back = user_client.raw.get(
        "/api/pipelines/callback/", {"code": "abc", "state": state_of(started), "iss": ISSUER}
    )

    assert back.status_code == 302
    assert back["Location"] == f"/?pipeline={started['id']}"
    assert user_client.show(started["id"]).json()["status"] == "complete"


# -- failures: the provider said no -----------------------------------------------------


@pytest.mark.parametrize(
    ("error", "message"),
    [
        ("access_denied", "You did not allow access."),
        ("invalid_scope", "The provider refused the permissions asked for."),
        ("server_error", "The provider had an error. Try again."),
        ("temporarily_unavailable", "The provider is busy. Try again in a moment."),
        ("something_new", "The provider did not let you sign in."),
    ],
)
def test_a_provider_error_goes_back_to_login_with_our_message(
    user_client: FlowClient, provider_http: Mock, error: str, message: str
) -> None:
    state, answer = fail_once(user_client, error=error, error_description="Raw provider text")

    assert_back_at_login(answer, "oauth_provider_error", message, spent_state=state)
    assert "Raw provider text" not in str(answer)
    assert len(provider_http.calls) == 0
    assert not Identity.objects.exists()


@pytest.mark.parametrize(
    "error",
    [
        "<script>alert(1)</script>",
        "access_denied<img src=x onerror=alert(1)>",
        "x" * 20_000,
    ],
    ids=["script", "markup-after-a-known-code", "huge"],
)
def test_a_hostile_provider_error_is_never_echoed(
    user_client: FlowClient, provider_http: Mock, error: str
) -> None:
    started = start(user_client)
    state = state_of(started)

    answer = come_back(user_client, state=state, error=error, error_description=error)

    assert answer.status_code == 200
    assert answer["Content-Type"] == "application/json"
    assert "<" not in answer.content.decode()
    assert error not in answer.content.decode()
    assert_back_at_login(
        answer.json(),
        "oauth_provider_error",
        "The provider did not let you sign in.",
        spent_state=state,
    )
    assert len(provider_http.calls) == 0


def test_a_callback_without_a_code_goes_back_to_login(
    user_client: FlowClient, provider_http: Mock
) -> None:
    state, answer = fail_once(user_client, code="")

    assert_back_at_login(
        answer, "oauth_missing_code", MESSAGES["oauth_missing_code"], spent_state=state
    )
    assert len(provider_http.calls) == 0


def test_a_failure_is_still_shown_when_the_browser_comes_back_to_the_frontend(
    user_client: FlowClient, provider_http: Mock
) -> None:
    started = start(user_client)
    state = state_of(started)

    back = user_client.raw.get(
        "/api/pipelines/callback/", {"error": "access_denied", "state": state}
    )

    assert back.status_code == 302
    assert back["Location"] == f"/?pipeline={started['id']}"
    shown = user_client.show(started["id"]).json()
    assert_back_at_login(
        shown, "oauth_provider_error", "You did not allow access.", spent_state=state
    )


# -- failures: talking to the token endpoint ------------------------------------------


@pytest.mark.parametrize(
    ("raised", "code"),
    [
        (requests.exceptions.SSLError("certificate verify failed"), "oauth_tls_error"),
        (requests.exceptions.ConnectionError("connection refused"), "oauth_connection_error"),
        (requests.exceptions.ReadTimeout("read timed out"), "oauth_timeout"),
        (requests.exceptions.ConnectTimeout("connect timed out"), "oauth_timeout"),
    ],
    ids=["tls", "connection", "read-timeout", "connect-timeout"],
)
def test_a_token_endpoint_out_of_reach_goes_back_to_login(
    user_client: FlowClient, provider_http: Mock, raised: Exception, code: str
) -> None:
    provider_http.post(TOKEN_URL, body=raised)

    state, answer = fail_once(user_client, code="abc")

    assert_back_at_login(answer, code, MESSAGES[code], spent_state=state)
    assert calls_to(provider_http, USER_URL) == []
    assert not Identity.objects.exists()


def test_a_token_endpoint_that_is_not_mocked_is_unreachable(
    user_client: FlowClient, provider_http: Mock
) -> None:
    # `responses` refuses unknown URLs as a connection error: no network.
    state, answer = fail_once(user_client, code="abc")

    assert_back_at_login(
        answer, "oauth_connection_error", MESSAGES["oauth_connection_error"], spent_state=state
    )


def test_a_non_json_token_answer_is_an_invalid_response(
    user_client: FlowClient, provider_http: Mock
) -> None:
    provider_http.post(
        TOKEN_URL, body="<html><body>Sign in</body></html>", content_type="text/html"
    )

    state, answer = fail_once(user_client, code="abc")

    assert_back_at_login(
        answer, "oauth_invalid_response", MESSAGES["oauth_invalid_response"], spent_state=state
    )


def test_a_non_json_token_error_page_is_an_http_error(
    user_client: FlowClient, provider_http: Mock
) -> None:
    provider_http.post(
        TOKEN_URL, body="<html>Bad gateway</html>", status=502, content_type="text/html"
    )

    state, answer = fail_once(user_client, code="abc")

    assert_back_at_login(
        answer, "oauth_http_error", MESSAGES["oauth_http_error"], spent_state=state
    )


def test_a_token_endpoint_error_500_is_an_http_error(
    user_client: FlowClient, provider_http: Mock
) -> None:
    provider_http.post(TOKEN_URL, json={"error": "server_error"}, status=500)

    state, answer = fail_once(user_client, code="abc")

    assert_back_at_login(
        answer, "oauth_http_error", MESSAGES["oauth_http_error"], spent_state=state
    )


@pytest.mark.parametrize(
    ("error", "message"),
    [
        ("invalid_grant", "The sign-in expired or was already used. Try again."),
        ("invalid_client", "This site's credentials for the provider were refused."),
        ("unauthorized_client", "This site may not sign in with the provider this way."),
        ("<b>made_up</b>", "The provider refused the sign-in."),
    ],
    ids=["invalid_grant", "invalid_client", "unauthorized_client", "unknown"],
)
def test_a_token_error_goes_back_to_login_with_our_message(
    user_client: FlowClient, provider_http: Mock, error: str, message: str
) -> None:
    provider_http.post(
        TOKEN_URL,
        json={"error": error, "error_description": "<b>Raw provider text</b>"},
        status=400,
    )

    state, answer = fail_once(user_client, code="abc")

    assert_back_at_login(answer, "oauth_token_error", message, spent_state=state)
    assert "Raw provider text" not in str(answer)
    assert calls_to(provider_http, USER_URL) == []


def test_a_token_error_answered_with_200_is_a_token_error(
    user_client: FlowClient, provider_http: Mock
) -> None:
    # GitHub, for one, answers a bad code with 200 and an `error`.
    provider_http.post(TOKEN_URL, json={"error": "bad_verification_code"})

    state, answer = fail_once(user_client, code="abc")

    assert_back_at_login(
        answer, "oauth_token_error", "The provider refused the sign-in.", spent_state=state
    )


@pytest.mark.parametrize(
    "body",
    [{"token_type": "Bearer"}, {"access_token": "", "token_type": "Bearer"}],
    ids=["missing", "empty"],
)
def test_a_token_answer_without_an_access_token_is_an_invalid_response(
    user_client: FlowClient, provider_http: Mock, body: dict[str, Any]
) -> None:
    answer_token(provider_http, body=body)

    state, answer = fail_once(user_client, code="abc")

    assert_back_at_login(
        answer, "oauth_invalid_response", MESSAGES["oauth_invalid_response"], spent_state=state
    )
    assert calls_to(provider_http, USER_URL) == []


def test_a_token_answer_that_is_a_json_list_is_an_invalid_response(
    user_client: FlowClient, provider_http: Mock
) -> None:
    provider_http.post(TOKEN_URL, json=["access_token", "at-123"])

    state, answer = fail_once(user_client, code="abc")

    assert_back_at_login(
        answer, "oauth_invalid_response", MESSAGES["oauth_invalid_response"], spent_state=state
    )


@pytest.mark.parametrize(
    "body",
    [
        '{"access_token": "at-123", "token_type": "Bearer", "expires_in": Infinity}',
        '{"access_token": "at-123", "token_type": "Bearer", "expires_in": 1e400}',
        '{"access_token": "at-123", "token_type": "Bearer", "expires_in": NaN}',
        '{"access_token": "at-123", "token_type": "Bearer", "scope": NaN}',
        '{"access_token": "at-123", "token_type": "Bearer", "extra": [-Infinity]}',
        '{"access_token": "at-123", "token_type": "Bearer", "scope": "profile\\u0000"}',
        '{"access_token": "at-123", "token_type": "Bearer", "x": {"\\u0000": 1}}',
        '{"access_token": "at-123", "token_type": "Bearer", "scope": "\\ud83d"}',
    ],
    ids=[
        "infinite-expiry",
        "huge-expiry",
        "nan-expiry",
        "nan-scope",
        "nested-infinity",
        "nul-scope",
        "nul-key",
        "lone-surrogate",
    ],
)
def test_a_token_answer_the_flow_cannot_keep_is_an_invalid_response(
    user_client: FlowClient, provider_http: Mock, body: str
) -> None:
    # Python's JSON reader takes NaN and Infinity; the flow's state could not keep them.
    provider_http.post(TOKEN_URL, body=body, content_type="application/json")

    state, answer = fail_once(user_client, code="abc")

    assert_back_at_login(
        answer, "oauth_invalid_response", MESSAGES["oauth_invalid_response"], spent_state=state
    )
    assert calls_to(provider_http, USER_URL) == []


# -- failures: fetching the user ------------------------------------------------------


@pytest.mark.parametrize(
    ("user_answer", "code"),
    [
        ({"json": {"detail": "invalid token"}, "status": 401}, "oauth_http_error"),
        ({"body": "<html>oops</html>", "content_type": "text/html"}, "oauth_invalid_response"),
        ({"json": [USER]}, "oauth_invalid_response"),
        ({"json": {"email": "ada@chat.example", "name": "Ada"}}, "oauth_invalid_response"),
        ({"json": {**USER, "id": None}}, "oauth_invalid_response"),
        ({"json": {**USER, "id": ""}}, "oauth_invalid_response"),
        ({"json": {**USER, "id": "9" * 256}}, "oauth_invalid_response"),
        ({"json": {**USER, "channels": "general"}}, "oauth_invalid_response"),
        (
            {"body": '{"id": 42, "name": NaN}', "content_type": "application/json"},
            "oauth_invalid_response",
        ),
        ({"json": {**USER, "name": "Ada\x00"}}, "oauth_invalid_response"),
        ({"json": {**USER, "channels": ["ok", "\udc80"]}}, "oauth_invalid_response"),
        (
            {
                "body": '{"id": 42, "email": "a@chat.example", "x": 1e400}',
                "content_type": "application/json",
            },
            "oauth_invalid_response",
        ),
        ({"body": requests.exceptions.SSLError("bad certificate")}, "oauth_tls_error"),
        ({"body": requests.exceptions.ReadTimeout("read timed out")}, "oauth_timeout"),
        ({"body": requests.exceptions.ConnectionError("reset")}, "oauth_connection_error"),
    ],
    ids=[
        "401",
        "not-json",
        "json-list",
        "no-id",
        "null-id",
        "empty-id",
        "id-too-long",
        "channels-not-a-list",
        "nan-name",
        "nul-name",
        "lone-surrogate-channel",
        "huge-number",
        "tls",
        "timeout",
        "connection",
    ],
)
def test_a_user_endpoint_failure_goes_back_to_login(
    user_client: FlowClient, provider_http: Mock, user_answer: dict[str, Any], code: str
) -> None:
    answer_token(provider_http)
    provider_http.get(USER_URL, **user_answer)

    state, answer = fail_once(user_client, code="abc")

    assert_back_at_login(answer, code, MESSAGES[code], spent_state=state)
    assert len(calls_to(provider_http, USER_URL)) == 1
    assert not Identity.objects.exists()


# -- trying again --------------------------------------------------------------------


def test_a_flow_whose_callback_failed_midway_sends_the_browser_with_a_fresh_state(
    user_client: FlowClient, provider_http: Mock
) -> None:
    # The state is spent before the step runs; a step that then fails
    # unexpectedly (here the token request, as a database outage could)
    # must not leave the flow waiting for that state forever.
    started = start(user_client)
    spent = state_of(started)
    provider_http.post(TOKEN_URL, body=RuntimeError("the process fell over"))
    with time_machine.travel(timezone.now(), tick=False) as clock:
        with pytest.raises(RuntimeError):
            come_back(user_client, code="abc", state=spent)
        # For all the flow knows, its callback is still exchanging the code.
        waiting = user_client.show(started["id"]).json()
        assert (state_of(waiting), waiting["step"]) == (spent, started["step"])
        clock.shift(settings.PIPELINE_CALLBACK_TIMEOUT)
        shown = user_client.show(started["id"]).json()

    fresh = state_of(shown)
    assert fresh != spent
    provider_http.replace(responses.POST, TOKEN_URL, json=TOKEN)
    answer_user(provider_http)
    done = come_back(user_client, code="abc", state=fresh)
    assert done.json()["status"] == "complete", done.content


def test_a_flow_shown_while_its_callback_exchanges_the_code_keeps_the_sign_in(
    user_client: FlowClient, provider_http: Mock, user: Any
) -> None:
    # Another tab reloads the flow while the provider is answering: it is
    # shown waiting for the same state, and writes nothing that would make
    # the callback's write lose (and the sign-in with it).
    started = start(user_client)
    shown_meanwhile: list[dict[str, Any]] = []

    def token_endpoint(request: Any) -> tuple[int, dict[str, str], str]:
        shown_meanwhile.append(user_client.show(started["id"]).json())
        return 200, {"Content-Type": "application/json"}, json.dumps(TOKEN)

    provider_http.add_callback(responses.POST, TOKEN_URL, callback=token_endpoint)
    answer_user(provider_http)

    done = come_back(user_client, code="abc", state=state_of(started))

    assert (done.status_code, done.json()["status"]) == (200, "complete"), done.content
    assert Identity.objects.get().user == user
    [meanwhile] = shown_meanwhile
    assert (meanwhile["step"], state_of(meanwhile)) == (started["step"], state_of(started))


def test_a_flow_deleted_while_its_callback_exchanges_the_code_is_not_found(
    user_client: FlowClient, provider_http: Mock
) -> None:
    # The purge deletes the flow (expired meanwhile) as the provider answers.
    started = start(user_client)

    def token_endpoint(request: Any) -> tuple[int, dict[str, str], str]:
        get_store().delete(started["id"])
        return 200, {"Content-Type": "application/json"}, json.dumps(TOKEN)

    provider_http.add_callback(responses.POST, TOKEN_URL, callback=token_endpoint)
    answer_user(provider_http)

    gone = come_back(user_client, code="abc", state=state_of(started))

    assert gone.status_code == 404
    assert error_of(gone)["code"] == "pipeline_not_found"
    assert not Identity.objects.exists()


def test_after_a_failure_the_fresh_state_links_the_identity(
    user_client: FlowClient, user: Any, provider_http: Mock
) -> None:
    provider_http.post(TOKEN_URL, json={"error": "invalid_grant"}, status=400)
    _spent, failed = fail_once(user_client, code="abc")
    provider_http.replace(responses.POST, TOKEN_URL, json=TOKEN)
    answer_user(provider_http)

    done = come_back(user_client, code="def", state=state_of(failed))

    assert done.status_code == 200
    assert (done.json()["status"], done.json()["errors"]) == ("complete", [])
    assert Identity.objects.get().user == user
    assert form_of(calls_to(provider_http, TOKEN_URL)[-1])["code"] == "def"


def test_after_a_provider_error_the_fresh_state_links_the_identity(
    user_client: FlowClient, provider_http: Mock
) -> None:
    _spent, failed = fail_once(user_client, error="access_denied")
    answer_token(provider_http)
    answer_user(provider_http)

    done = come_back(user_client, code="abc", state=state_of(failed)).json()

    assert done["status"] == "complete"
    assert Identity.objects.count() == 1


def test_a_retry_sends_a_new_pkce_challenge(user_client: FlowClient, provider_http: Mock) -> None:
    started = start(user_client)
    _spent, failed = fail_once(user_client, error="access_denied")

    first, again = query_of(redirect_url(started)), query_of(redirect_url(failed))
    assert first["code_challenge"] != again["code_challenge"]


# -- state -----------------------------------------------------------------------------


def test_replaying_a_successful_callback_is_refused_and_exchanges_nothing(
    user_client: FlowClient, provider_http: Mock
) -> None:
    started = start(user_client)
    answer_token(provider_http)
    answer_user(provider_http)
    query = {"code": "abc", "state": state_of(started)}
    come_back(user_client, **query)
    exchanged = len(provider_http.calls)

    replay = come_back(user_client, **query)

    assert replay.status_code == 400
    assert error_of(replay)["code"] == "state_reused"
    assert len(provider_http.calls) == exchanged
    assert Identity.objects.count() == 1


def test_replaying_a_failed_callback_is_refused_and_the_fresh_state_still_works(
    user_client: FlowClient, provider_http: Mock
) -> None:
    state, failed = fail_once(user_client, error="access_denied")
    answer_token(provider_http)
    answer_user(provider_http)

    replay = come_back(user_client, code="abc", state=state)

    assert replay.status_code == 400
    assert error_of(replay)["code"] == "state_reused"
    assert len(provider_http.calls) == 0
    done = come_back(user_client, code="abc", state=state_of(failed)).json()
    assert done["status"] == "complete"


def _issue_newer_state(flow_id: str, user: Any) -> str:
    """Make the flow's login step issue another state, as a second attempt would."""
    request = api_request(user)
    stored = get_store().load(flow_id)
    assert stored is not None
    pipeline = IdentityPipeline(request, "local", state=stored)
    pipeline.bind_state(ATTEMPT_KEY, None)
    return state_of(dict(pipeline.current_step().data))


def test_a_superseded_state_of_the_flow_is_refused_and_exchanges_nothing(
    user_client: FlowClient, user: Any, provider_http: Mock
) -> None:
    started = start(user_client)
    old = state_of(started)
    newer = _issue_newer_state(started["id"], user)
    answer_token(provider_http)
    answer_user(provider_http)

    refused = come_back(user_client, code="abc", state=old)

    assert newer != old
    assert refused.status_code == 400
    assert error_of(refused)["code"] == "state_mismatch"
    assert len(provider_http.calls) == 0
    assert come_back(user_client, code="abc", state=newer).json()["status"] == "complete"


def test_the_callback_step_checks_the_state_itself(
    user_client: FlowClient, user: Any, provider_http: Mock
) -> None:
    # Past the callback endpoint's own check (the Python API): the step
    # still refuses a state that is not its attempt's, and exchanges nothing.
    started = start(user_client)
    stored = get_store().load(started["id"])
    assert stored is not None
    request = query_request(api_request(user, code="abc", state="forged"))
    pipeline = IdentityPipeline(request, "local", state=stored)

    answer = dict(pipeline.current_step().data)

    assert_back_at_login(
        answer, "state_mismatch", MESSAGES["state_mismatch"], spent_state=state_of(started)
    )
    assert len(provider_http.calls) == 0


def test_the_callback_step_shown_with_no_browser_coming_back_shows_the_login_again(
    user_client: FlowClient,
) -> None:
    # Not reachable through the API: the flow is put at the callback step by hand.
    started = start(user_client)
    stored = get_store().load(started["id"])
    assert stored is not None
    stored.frame.step_index = 1
    assert get_store().compare_and_set(stored, stored.version)

    shown = user_client.show(started["id"]).json()

    assert (shown["status"], shown["step"]["name"], shown["kind"]) == (
        "active",
        "login",
        "redirect",
    )
    assert shown["errors"] == []
    assert state_of(shown) == state_of(started)


def test_a_code_and_state_sent_to_the_flow_itself_exchange_nothing(
    user_client: FlowClient, provider_http: Mock
) -> None:
    # Only the callback endpoint spends a state and hands the query to the step.
    started = start(user_client)
    state = state_of(started)
    answer_token(provider_http)
    answer_user(provider_http)

    shown = user_client.get(f"/api/pipelines/{started['id']}/?code=abc&state={state}")
    submitted = user_client.submit(started, {"code": "abc", "state": state})

    assert len(provider_http.calls) == 0
    for answer in (shown, submitted):
        assert answer.status_code == 200
        assert (answer.json()["step"]["name"], state_of(answer.json())) == ("login", state)
    assert come_back(user_client, code="abc", state=state).json()["status"] == "complete"


# -- where the settings come from -------------------------------------------------------

PROVIDERS_WITH_CUSTOM = {
    "local": LOCAL,
    "pinned": {"client_id": "settings-id", "client_secret": "settings-secret"},
    "nowhere": {"client_id": "settings-id", "client_secret": "settings-secret"},
    "tokenless": {"client_id": "settings-id", "client_secret": "settings-secret"},
}


def _setting(name: str, *, config: dict[str, Any], model_config: dict[str, Any]) -> str:
    pipeline = CustomIdentityPipeline(
        api_request(),
        "nowhere",
        config=config,
        provider_model=IdentityProvider(type="nowhere", config=model_config),
    )
    assert isinstance(pipeline.provider, OAuth2Provider)
    return pipeline.provider.get_oauth_setting(name)


@override_settings(IDENTITY_PROVIDERS=PROVIDERS_WITH_CUSTOM)
def test_a_class_attribute_wins_over_every_config() -> None:
    pipeline = CustomIdentityPipeline(
        api_request(),
        "pinned",
        config={"oauth_client_id": "config-id"},
        provider_model=IdentityProvider(type="pinned", config={"client_id": "model-id"}),
    )
    assert isinstance(pipeline.provider, OAuth2Provider)
    assert pipeline.provider.get_oauth_setting("client_id") == "class-id"


@override_settings(IDENTITY_PROVIDERS=PROVIDERS_WITH_CUSTOM)
def test_the_pipeline_config_wins_over_the_provider_model_and_the_settings() -> None:
    found = _setting(
        "client_id",
        config={"oauth_client_id": "config-id"},
        model_config={"client_id": "model-id"},
    )
    assert found == "config-id"


@override_settings(IDENTITY_PROVIDERS=PROVIDERS_WITH_CUSTOM)
def test_the_provider_models_config_wins_over_the_settings() -> None:
    found = _setting("client_id", config={}, model_config={"client_id": "model-id"})
    assert found == "model-id"


@override_settings(IDENTITY_PROVIDERS=PROVIDERS_WITH_CUSTOM)
def test_the_settings_are_the_last_place_a_setting_is_looked_up() -> None:
    assert _setting("client_id", config={}, model_config={}) == "settings-id"


@override_settings(IDENTITY_PROVIDERS=PROVIDERS_WITH_CUSTOM)
def test_a_setting_found_nowhere_is_not_configured() -> None:
    with pytest.raises(OAuthFailure) as raised:
        _setting("authorize_url", config={}, model_config={})
    assert raised.value.code == "oauth_not_configured"


@override_settings(IDENTITY_PROVIDERS=PROVIDERS_WITH_CUSTOM)
def test_a_provider_model_can_name_the_authorize_url() -> None:
    found = _setting(
        "authorize_url", config={}, model_config={"authorize_url": "https://sso.example/auth"}
    )
    assert found == "https://sso.example/auth"


@override_settings(IDENTITY_PROVIDERS=PROVIDERS_WITH_CUSTOM, PIPELINE_CLASSES=TEST_PIPELINES)
def test_a_provider_missing_a_setting_fails_the_flow_as_not_configured(
    user_client: FlowClient, provider_http: Mock
) -> None:
    started = user_client.start("custom_identity", "nowhere")

    assert started.status_code == 201
    failed = started.json()
    assert (failed["status"], failed["kind"]) == ("failed", "error")
    assert [error["code"] for error in failed["errors"]] == ["oauth_not_configured"]
    assert failed["errors"][0]["message"] == "This provider is not set up."
    assert len(provider_http.calls) == 0


@override_settings(IDENTITY_PROVIDERS=PROVIDERS_WITH_CUSTOM, PIPELINE_CLASSES=TEST_PIPELINES)
def test_a_callback_missing_a_setting_fails_the_flow_rather_than_asking_again(
    user_client: FlowClient, provider_http: Mock
) -> None:
    # Sending the user back to sign in could only end the same way, forever.
    started = user_client.start("custom_identity", "tokenless").json()
    assert started["step"]["name"] == "login"

    answer = come_back(user_client, code="abc", state=state_of(started), iss="")

    assert answer.status_code == 200, answer.content
    failed = answer.json()
    assert (failed["status"], failed["kind"]) == ("failed", "error")
    assert [error["code"] for error in failed["errors"]] == ["oauth_not_configured"]
    assert len(provider_http.calls) == 0


@pytest.mark.parametrize(
    "credentials",
    [
        {"client_id": "", "client_secret": "sec"},
        {"client_id": "cid", "client_secret": ""},
        {},
    ],
    ids=["no-client-id", "no-client-secret", "nothing"],
)
def test_a_provider_without_credentials_cannot_be_started(
    user_client: FlowClient, credentials: dict[str, str]
) -> None:
    with override_settings(IDENTITY_PROVIDERS={"local": {"enabled": True, **credentials}}):
        refused = user_client.start("identity", "local")

    assert refused.status_code == 404
    assert error_of(refused)["code"] == "unknown_provider"


# -- an account of someone else's -------------------------------------------------------


def test_an_account_linked_to_another_user_fails_the_flow_and_writes_nothing(
    user_client: FlowClient, other_user: Any, provider_http: Mock
) -> None:
    theirs = Identity.objects.create(
        user=other_user,
        idp=provider_for("local"),
        external_id="42",
        data={"email": "grace@chat.example"},
        scopes=["profile"],
        date_verified="2026-01-01T00:00:00Z",
    )

    failed = linked(user_client, provider_http)

    assert (failed["status"], failed["kind"]) == ("failed", "error")
    assert [error["code"] for error in failed["errors"]] == ["identity_already_linked"]
    assert Identity.objects.count() == 1
    theirs.refresh_from_db()
    assert theirs.user == other_user
    assert (theirs.data, theirs.scopes) == ({"email": "grace@chat.example"}, ["profile"])


def test_linking_the_same_account_again_refreshes_the_identity(
    user_client: FlowClient, user: Any, provider_http: Mock
) -> None:
    linked(user_client, provider_http)
    provider_http.replace(responses.POST, TOKEN_URL, json={**TOKEN, "access_token": "at-new"})

    again = come_back(user_client, code="abc", state=state_of(start(user_client))).json()

    assert again["status"] == "complete"
    identity = Identity.objects.get()
    assert identity.user == user
    assert identity.data["data"]["access_token"] == "at-new"


def test_the_token_endpoint_answer_is_not_in_the_descriptor(
    user_client: FlowClient, provider_http: Mock
) -> None:
    done = linked(user_client, provider_http)
    assert "at-123" not in str(done)
    assert "rt-456" not in str(done)


def test_a_callback_with_a_state_but_nothing_else_is_a_missing_code(
    user_client: FlowClient, provider_http: Mock
) -> None:
    state, answer = fail_once(user_client)

    assert_back_at_login(
        answer, "oauth_missing_code", MESSAGES["oauth_missing_code"], spent_state=state
    )
    assert calls_to(provider_http, TOKEN_URL) == []


@pytest.mark.parametrize("named", ["https://elsewhere.example", ""])
def test_a_code_that_does_not_name_the_providers_issuer_is_never_exchanged(
    user_client: FlowClient, provider_http: Mock, named: str
) -> None:
    # A code another server gave, which the browser was made to bring here
    # (a mix-up attack, RFC 9207), or one that names no server at all.
    started = start(user_client)
    answer_token(provider_http)
    answer_user(provider_http)

    answer = come_back(user_client, code="abc", state=state_of(started), iss=named).json()

    message = "The sign-in came from elsewhere."
    assert_back_at_login(answer, "oauth_issuer_mismatch", message, spent_state=state_of(started))
    assert calls_to(provider_http, TOKEN_URL) == []
    assert not Identity.objects.exists()


def test_a_refusal_that_names_no_issuer_is_told_as_the_providers(
    user_client: FlowClient, provider_http: Mock
) -> None:
    # django-oauth-toolkit names itself on a code, not on an error; there is no code to exchange.
    started = start(user_client)
    answer = come_back(user_client, error="access_denied", state=state_of(started), iss="").json()
    assert answer["errors"][0]["code"] == "oauth_provider_error"


def test_a_refusal_that_names_another_issuer_is_not_told_as_the_providers(
    user_client: FlowClient, provider_http: Mock
) -> None:
    # Another server's error, which the browser was made to bring here (RFC 9207).
    started = start(user_client)
    answer = come_back(
        user_client,
        error="access_denied",
        state=state_of(started),
        iss="https://elsewhere.example",
    ).json()

    message = "The sign-in came from elsewhere."
    assert_back_at_login(answer, "oauth_issuer_mismatch", message, spent_state=state_of(started))


@override_settings(IDENTITY_PROVIDERS={"local": {**LOCAL, "issuer": "https://id.chat.example"}})
def test_an_issuer_set_for_the_provider_is_the_one_a_code_must_name(
    user_client: FlowClient, provider_http: Mock
) -> None:
    started = start(user_client)
    answer_token(provider_http)
    answer_user(provider_http)
    refused = come_back(user_client, code="abc", state=state_of(started)).json()
    assert refused["errors"][0]["code"] == "oauth_issuer_mismatch"

    named = {"code": "abc", "state": state_of(refused), "iss": "https://id.chat.example"}
    assert come_back(user_client, **named).json()["status"] == "complete"


def test_a_provider_that_names_no_issuer_takes_a_code_without_one(
    user_client: FlowClient, provider_http: Mock
) -> None:
    with override_settings(
        IDENTITY_PROVIDERS={"github": {"client_id": "g", "client_secret": "s"}}
    ):
        started = start(user_client, "github")
        provider_http.post(GitHubProvider.oauth_access_token_url, json=TOKEN)
        provider_http.get(GitHubProvider.user_url, json={"id": 1, "email": "a@b.c", "name": "A"})
        done = come_back(user_client, code="abc", state=state_of(started), iss="").json()
    assert done["status"] == "complete", done


def test_a_state_that_is_not_ascii_is_a_mismatch_not_a_crash(
    user_client: FlowClient, user: Any, provider_http: Mock
) -> None:
    started = start(user_client)
    pipeline = IdentityPipeline(
        query_request(api_request(user, code="abc", state="\u00e9t\u00e9")),
        "local",
        state=get_store().load(started["id"]),
    )
    answer = pipeline.current_step().data
    assert answer["errors"][0]["code"] == "state_mismatch"
    assert calls_to(provider_http, TOKEN_URL) == []


def test_what_the_provider_says_of_the_user_is_kept_with_the_identity(
    user_client: FlowClient, provider_http: Mock
) -> None:
    linked(user_client, provider_http)
    assert Identity.objects.get().data["data"]["user"]["channels"] == USER["channels"]
