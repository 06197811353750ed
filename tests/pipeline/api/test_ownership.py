"""Who may see and move a flow: its user, its session, or its flow token."""

import uuid
from collections.abc import Callable
from importlib import import_module
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import login, logout
from django.contrib.auth.models import AnonymousUser
from django.db import connection, transaction
from django.http import HttpRequest
from django.test import RequestFactory, override_settings
from rest_framework.authtoken.models import Token
from rest_framework.request import Request
from rest_framework.test import APIClient

from backend.pipeline import ownership
from tests.conftest import COMPANY, CONFIRM, PROFILE, FlowClient
from tests.pipeline.test_store import REDIS_URL, redis_client

from .conftest import (
    API,
    Response,
    back_url,
    cycle_session_key,
    error_of,
    flow_url,
    hold_the_flows_lock,
    position,
    script_client,
)


def _not_found(response: Response) -> bool:
    return response.status_code == 404 and error_of(response)["code"] == "pipeline_not_found"


def _every_action(client: FlowClient, descriptor: dict[str, Any]) -> list[Response]:
    return [
        client.show(descriptor["id"]),
        client.submit(descriptor, PROFILE),
        client.back(descriptor),
        client.cancel(descriptor["id"]),
    ]


def _token_client(token: str) -> APIClient:
    client = script_client()
    client.credentials(HTTP_X_PIPELINE_TOKEN=token)
    return client


# -- user-bound flows -------------------------------------------------------------------------


@pytest.fixture
def users_flow(user_client: FlowClient) -> dict[str, Any]:
    """An onboarding flow `user` started while logged in, at its second step."""
    descriptor: dict[str, Any] = user_client.submit(user_client.start().json(), PROFILE).json()
    return descriptor


def test_another_user_gets_404_for_a_users_flow(
    users_flow: dict[str, Any], other_client: FlowClient, other_user: Any
) -> None:
    other_client.login("grace", "hopper-1906")
    assert all(_not_found(r) for r in _every_action(other_client, users_flow))


def test_an_anonymous_client_gets_404_for_a_users_flow(
    users_flow: dict[str, Any], other_client: FlowClient
) -> None:
    assert all(_not_found(r) for r in _every_action(other_client, users_flow))


def test_the_same_browser_gets_404_for_a_users_flow_after_logout(
    user_client: FlowClient, users_flow: dict[str, Any]
) -> None:
    assert user_client.post("/api/auth/logout/").status_code == 204
    user_client.csrf_token = user_client.raw.get("/api/auth/csrf/").json()["csrf_token"]
    assert all(_not_found(r) for r in _every_action(user_client, users_flow))


def test_another_user_logging_into_the_same_browser_gets_404(
    user_client: FlowClient, users_flow: dict[str, Any], other_user: Any
) -> None:
    user_client.post("/api/auth/logout/")
    user_client.login("grace", "hopper-1906")
    assert _not_found(user_client.show(users_flow["id"]))


def test_the_flow_token_of_a_users_flow_does_not_open_it_to_anonymous_clients(
    user_client: FlowClient,
) -> None:
    started = user_client.start().json()
    assert _not_found(_token_client(started["token"]).get(flow_url(started["id"])))


def test_a_users_flow_survives_logging_out_and_in_again(
    user_client: FlowClient, users_flow: dict[str, Any]
) -> None:
    user_client.post("/api/auth/logout/")
    user_client.login("ada", "lovelace-1815")
    assert position(user_client, users_flow["id"]) == ("company", 2)


def test_the_same_user_can_continue_a_flow_with_token_auth_from_another_client(
    users_flow: dict[str, Any], api_token: str
) -> None:
    script = script_client()
    script.credentials(HTTP_AUTHORIZATION=f"Token {api_token}")
    assert script.get(flow_url(users_flow["id"])).json() == users_flow
    moved = script.post(flow_url(users_flow["id"]), {"version": 2, "data": COMPANY}, format="json")
    assert moved.status_code == 200
    assert moved.json()["step"]["name"] == "confirm"


def test_a_flow_started_with_token_auth_is_the_users_in_the_browser(
    user_client: FlowClient, api_token: str
) -> None:
    script = script_client()
    script.credentials(HTTP_AUTHORIZATION=f"Token {api_token}")
    started = script.post(API, {"pipeline": "identity", "provider": "dummy"}, format="json")
    assert started.status_code == 201
    done = user_client.submit(started.json(), {"email": "ada@example.com"})
    assert done.status_code == 200
    assert done.json()["kind"] == "complete"


def test_another_users_token_auth_gets_404(users_flow: dict[str, Any], other_user: Any) -> None:
    script = script_client()
    script.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=other_user).key}")
    assert _not_found(script.get(flow_url(users_flow["id"])))


# -- anonymous flows --------------------------------------------------------------------------


def test_another_session_gets_404_for_an_anonymous_flow(
    at_company: dict[str, Any], other_client: FlowClient
) -> None:
    assert all(_not_found(r) for r in _every_action(other_client, at_company))


def test_another_session_gets_404_not_410_for_a_cancelled_flow(
    client: FlowClient, started: dict[str, Any], other_client: FlowClient
) -> None:
    client.cancel(started["id"])
    assert _not_found(other_client.show(started["id"]))


def test_a_rejected_client_moves_nothing(
    client: FlowClient, at_company: dict[str, Any], other_client: FlowClient
) -> None:
    _every_action(other_client, at_company)
    assert position(client, at_company["id"]) == ("company", 2)


def test_the_flow_token_can_show_an_anonymous_flow_from_a_cookieless_client(
    started: dict[str, Any],
) -> None:
    response = _token_client(started["token"]).get(flow_url(started["id"]))
    assert response.status_code == 200
    assert response.json()["step"]["name"] == "profile"


def test_the_flow_token_can_run_an_anonymous_flow_to_its_end(started: dict[str, Any]) -> None:
    script = _token_client(started["token"])
    version = started["step"]["version"]
    for data in (PROFILE, COMPANY, CONFIRM):
        response = script.post(
            flow_url(started["id"]), {"version": version, "data": data}, format="json"
        )
        assert response.status_code == 200
        version = response.json()["step"]["version"]
    assert response.json()["kind"] == "complete"


def test_the_flow_token_can_go_back_and_cancel(
    client: FlowClient, at_company: dict[str, Any], started: dict[str, Any]
) -> None:
    script = _token_client(started["token"])
    back = script.post(back_url(at_company["id"]), {"version": 2}, format="json")
    assert back.status_code == 200
    assert script.delete(flow_url(at_company["id"])).status_code == 204


def test_the_session_still_owns_a_flow_moved_by_its_token(
    client: FlowClient, started: dict[str, Any]
) -> None:
    _token_client(started["token"]).post(
        flow_url(started["id"]), {"version": 1, "data": PROFILE}, format="json"
    )
    assert position(client, started["id"]) == ("company", 2)


@pytest.mark.parametrize("token", ["", "wrong", "x" * 43, "\u2603" * 10])
def test_a_wrong_flow_token_gets_404(started: dict[str, Any], token: str) -> None:
    assert _not_found(_token_client(token).get(flow_url(started["id"])))


def test_a_wrong_flow_token_cannot_move_the_flow(
    client: FlowClient, started: dict[str, Any]
) -> None:
    response = _token_client("wrong").post(
        flow_url(started["id"]), {"version": 1, "data": PROFILE}, format="json"
    )
    assert _not_found(response)
    assert position(client, started["id"]) == ("profile", 1)


@pytest.mark.parametrize("token", ["", "wrong", "another flow's"])
def test_a_wrong_flow_token_beside_the_owning_sessions_cookie_leaves_the_flow_open(
    client: FlowClient, started: dict[str, Any], token: str
) -> None:
    # A client's default header, left from another flow: the session still opens its own.
    if token == "another flow's":
        token = client.start().json()["token"]
    shown = client.get(flow_url(started["id"]), HTTP_X_PIPELINE_TOKEN=token)
    assert shown.status_code == 200, shown.json()

    # Not the flow's token, it lifts no CSRF check: with the session's token it moves the flow.
    body = {"version": 1, "data": PROFILE}
    unchecked = client.raw.post(
        flow_url(started["id"]), body, format="json", HTTP_X_PIPELINE_TOKEN=token
    )
    assert (unchecked.status_code, error_of(unchecked)["code"]) == (403, "csrf_failed")
    moved = client.post(flow_url(started["id"]), body, HTTP_X_PIPELINE_TOKEN=token)
    assert moved.status_code == 200, moved.json()
    assert position(client, started["id"]) == ("company", 2)


def test_a_wrong_flow_token_beside_another_sessions_cookie_opens_nothing(
    client: FlowClient, started: dict[str, Any]
) -> None:
    stranger = FlowClient()
    stranger.start()
    assert _not_found(stranger.get(flow_url(started["id"]), HTTP_X_PIPELINE_TOKEN="wrong"))


def test_the_token_of_one_flow_does_not_open_another(client: FlowClient) -> None:
    first, second = client.start().json(), client.start().json()
    assert _not_found(_token_client(first["token"]).get(flow_url(second["id"])))


def test_two_flows_in_one_session_run_independently(client: FlowClient) -> None:
    first = client.start().json()
    second = client.start(initial_data={"name": "Grace"}).json()
    first = client.submit(first, PROFILE).json()
    second = client.submit(second, {"email": "grace@example.com", "name": "Grace"}).json()
    first = client.back(first).json()
    assert position(client, first["id"]) == ("profile", 3)
    assert position(client, second["id"]) == ("company", 2)
    assert first["form"]["data"] == PROFILE
    assert client.back(second).json()["form"]["data"]["name"] == "Grace"


def test_cancelling_one_flow_leaves_the_others_of_the_session(client: FlowClient) -> None:
    first, second = client.start().json(), client.start().json()
    client.cancel(first["id"])
    assert client.show(second["id"]).status_code == 200


def test_an_anonymous_flow_stays_with_the_session_when_its_user_logs_in(
    client: FlowClient, at_company: dict[str, Any], user: Any
) -> None:
    client.login("ada", "lovelace-1815")
    assert position(client, at_company["id"]) == ("company", 2)


def test_an_anonymous_flow_leaves_the_session_on_logout_but_keeps_its_token(
    client: FlowClient, started: dict[str, Any]
) -> None:
    assert client.post("/api/auth/logout/").status_code == 204
    assert _not_found(client.show(started["id"]))
    assert _token_client(started["token"]).get(flow_url(started["id"])).status_code == 200


# -- the session key as owner key -------------------------------------------------------------


def _with_session_key(key: str) -> FlowClient:
    """Another browser, whose session cookie carries `key`."""
    browser = FlowClient()
    browser.raw.cookies[settings.SESSION_COOKIE_NAME] = key
    return browser


def test_a_session_whose_key_changed_still_reaches_its_flows(
    client: FlowClient, at_company: dict[str, Any]
) -> None:
    cycle_session_key(client)
    assert position(client, at_company["id"]) == ("company", 2)
    assert client.submit(at_company, COMPANY).status_code == 200


def test_the_session_key_from_before_a_login_opens_no_flow(
    client: FlowClient, at_company: dict[str, Any], user: Any
) -> None:
    before = client.raw.cookies[settings.SESSION_COOKIE_NAME].value
    assert position(_with_session_key(before), at_company["id"]) == ("company", 2)

    client.login("ada", "lovelace-1815")

    assert all(_not_found(r) for r in _every_action(_with_session_key(before), at_company))
    assert position(client, at_company["id"]) == ("company", 2)


def _flow_on_redis(client: FlowClient, settings: Any) -> tuple[dict[str, Any], str]:
    """An anonymous flow, and the session key it began under, its flows on the test Redis.

    Sessions stay in the database; a test may then point the flows' Redis
    where nothing listens (`_while_flows_store_down`).
    """
    redis_client()
    settings.PIPELINE_STORE = "backend.pipeline.redis_store.RedisStore"
    settings.PIPELINE_REDIS_URL = REDIS_URL
    settings.PIPELINE_REDIS_PREFIX = f"test-{uuid.uuid4().hex}:"
    started = client.start().json()
    return started, client.raw.cookies[settings.SESSION_COOKIE_NAME].value


def _while_flows_store_down(settings: Any, send: Callable[[], Response]) -> Response:
    """What `send()` is answered while the flows' Redis is where nothing listens."""
    settings.PIPELINE_REDIS_URL = "redis://127.0.0.1:1/0"
    try:
        return send()
    finally:
        settings.PIPELINE_REDIS_URL = REDIS_URL


def test_a_login_that_cannot_move_the_flows_leaves_the_session_with_them(
    client: FlowClient, user: Any, settings: Any
) -> None:
    started, before = _flow_on_redis(client, settings)

    refused = _while_flows_store_down(settings, lambda: client.login("ada", "lovelace-1815"))

    assert refused.status_code == 503
    assert client.raw.cookies[settings.SESSION_COOKIE_NAME].value == before
    assert client.get("/api/auth/me/").json()["authenticated"] is False
    assert position(client, started["id"]) == ("profile", 1)
    assert client.login("ada", "lovelace-1815").status_code == 200
    assert position(client, started["id"]) == ("profile", 1)
    assert _not_found(_with_session_key(before).show(started["id"]))


def test_a_logged_in_user_logs_out_while_the_flows_store_is_down(
    client: FlowClient, user: Any, settings: Any
) -> None:
    started, before = _flow_on_redis(client, settings)
    client.login("ada", "lovelace-1815")
    during = client.raw.cookies[settings.SESSION_COOKIE_NAME].value

    logged_out = _while_flows_store_down(settings, lambda: client.post("/api/auth/logout/"))

    assert logged_out.status_code == 204
    assert client.get("/api/auth/me/").json()["authenticated"] is False
    assert all(_not_found(_with_session_key(key).show(started["id"])) for key in (before, during))
    assert _token_client(started["token"]).get(flow_url(started["id"])).status_code == 200


def test_a_user_who_started_flows_after_logging_in_logs_out_while_the_store_is_down(
    client: FlowClient, user: Any, settings: Any
) -> None:
    client.login("ada", "lovelace-1815")
    started, during = _flow_on_redis(client, settings)
    assert client.raw.session[ownership.SESSION_KEY] != during  # a key no cookie carries

    logged_out = _while_flows_store_down(settings, lambda: client.post("/api/auth/logout/"))

    assert logged_out.status_code == 204
    assert _not_found(_with_session_key(during).show(started["id"]))


def test_a_logout_by_api_token_does_not_end_an_anonymous_session_while_the_store_is_down(
    client: FlowClient, user: Any, settings: Any
) -> None:
    """The token's user is the request's; the session, whose cookie is its flows' key, is not."""
    started, before = _flow_on_redis(client, settings)
    key = Token.objects.create(user=user).key

    refused = _while_flows_store_down(
        settings,
        lambda: client.raw.post("/api/auth/logout/", HTTP_AUTHORIZATION=f"Token {key}"),
    )

    assert refused.status_code == 503
    assert position(_with_session_key(before), started["id"]) == ("profile", 1)


@pytest.mark.postgresql  # SQLite's transactions take the lock as they begin
@pytest.mark.django_db(transaction=True)
def test_a_logout_inside_a_transaction_goes_on_when_the_flows_are_locked(
    client: FlowClient, started: dict[str, Any], user: Any
) -> None:
    client.login("ada", "lovelace-1815")
    request = _loaded_session(client.raw.cookies[settings.SESSION_COOKIE_NAME].value)
    request.user = user
    options = connection.settings_dict["OPTIONS"]
    locker, waiting_briefly = hold_the_flows_lock()
    try:
        connection.close()
        connection.settings_dict["OPTIONS"] = waiting_briefly
        with transaction.atomic():  # as under ATOMIC_REQUESTS
            logout(request)
    finally:
        locker.rollback()
        locker.close()
        connection.close()
        connection.settings_dict["OPTIONS"] = options

    assert client.get("/api/auth/me/").json()["authenticated"] is False


def test_a_logged_in_session_whose_key_is_its_owner_key_does_not_end_while_the_store_is_down(
    client: FlowClient, user: Any, settings: Any
) -> None:
    """As an older release left it: a copy of its cookie would open its anonymous flows."""
    client.login("ada", "lovelace-1815")
    key = client.raw.cookies[settings.SESSION_COOKIE_NAME].value
    session = client.raw.session
    session[ownership.SESSION_KEY] = key
    session.save()
    _flow_on_redis(client, settings)

    refused = _while_flows_store_down(settings, lambda: client.post("/api/auth/logout/"))

    assert refused.status_code == 503
    assert client.get("/api/auth/me/").json()["authenticated"] is True


def test_an_anonymous_session_does_not_end_while_the_flows_store_is_down(
    client: FlowClient, settings: Any
) -> None:
    """Its cookie's key is its flows' key: ended without moving them, a copy would open them."""
    started, _ = _flow_on_redis(client, settings)

    refused = _while_flows_store_down(settings, lambda: client.post("/api/auth/logout/"))

    assert refused.status_code == 503
    assert position(client, started["id"]) == ("profile", 1)
    assert client.post("/api/auth/logout/").status_code == 204
    assert _not_found(client.show(started["id"]))


def _loaded_session(key: str, *, owned: bool = True) -> HttpRequest:
    """A request carrying the session under `key`, read now (its owner key set, or not yet)."""
    request = RequestFactory().post("/api/auth/login/")
    request.session = import_module(settings.SESSION_ENGINE).SessionStore(key)
    assert (ownership.SESSION_KEY in request.session) == owned
    request.user = AnonymousUser()
    return request


def test_two_logins_sent_at_once_from_one_session_both_keep_its_flows(
    client: FlowClient, at_company: dict[str, Any], user: Any
) -> None:
    """A double click: both requests read the session before either logs in."""
    before = client.raw.cookies[settings.SESSION_COOKIE_NAME].value
    first, second = _loaded_session(before), _loaded_session(before)

    for request in (first, second):
        login(request, user)
        request.session.save()

    assert first.session.session_key != second.session.session_key
    for request in (first, second):
        browser = _with_session_key(str(request.session.session_key))
        assert position(browser, at_company["id"]) == ("company", 2)
    assert _not_found(_with_session_key(before).show(at_company["id"]))


def test_the_key_a_login_gives_is_derived_with_the_sessions_own_seed(
    client: FlowClient, started: dict[str, Any], user: Any
) -> None:
    """Not from what a cookie carries and the user alone: a holder of the old cookie lacks it."""
    before = client.raw.cookies[settings.SESSION_COOKIE_NAME].value
    first, second = _loaded_session(before), _loaded_session(before)
    second.session[ownership.SEED_KEY] = "another seed"

    for request in (first, second):
        login(request, user)

    assert first.session[ownership.SESSION_KEY] != second.session[ownership.SESSION_KEY]


def test_the_key_a_login_gives_is_derived_with_the_projects_secret_too(
    client: FlowClient, started: dict[str, Any], user: Any
) -> None:
    """Where a session is kept in its cookie, its seed is no secret."""
    before = client.raw.cookies[settings.SESSION_COOKIE_NAME].value
    first, second = _loaded_session(before), _loaded_session(before)

    login(first, user)
    with override_settings(SECRET_KEY="another secret key, at least fifty characters long"):
        login(second, user)

    assert first.session[ownership.SESSION_KEY] != second.session[ownership.SESSION_KEY]


def test_each_session_gets_a_seed_of_its_own(client: FlowClient, started: dict[str, Any]) -> None:
    other = FlowClient()
    other.start()
    assert client.raw.session[ownership.SEED_KEY] != other.raw.session[ownership.SEED_KEY]


def test_tabs_starting_a_logged_in_sessions_first_flows_at_once_agree_on_its_key(
    client: FlowClient, user: Any
) -> None:
    client.login("ada", "lovelace-1815")
    key = client.raw.cookies[settings.SESSION_COOKIE_NAME].value
    tabs = [_loaded_session(key, owned=False) for _ in range(2)]
    for tab in tabs:
        tab.user = user

    hashes = {ownership.session_hash(Request(tab), create=True) for tab in tabs}

    assert len(hashes) == 1
    assert hashes != {ownership.hash_token(key)}  # a key no cookie carries


def test_another_users_login_from_the_same_session_gets_none_of_its_flows(
    client: FlowClient, at_company: dict[str, Any], user: Any, other_user: Any
) -> None:
    before = client.raw.cookies[settings.SESSION_COOKIE_NAME].value
    first, second = _loaded_session(before), _loaded_session(before)

    for request, who in ((first, user), (second, other_user)):
        login(request, who)
        request.session.save()

    assert position(_with_session_key(str(first.session.session_key)), at_company["id"]) == (
        "company",
        2,
    )
    assert _not_found(_with_session_key(str(second.session.session_key)).show(at_company["id"]))


def test_the_session_key_from_before_a_logout_opens_no_flow(
    client: FlowClient, started: dict[str, Any], at_company: dict[str, Any]
) -> None:
    # Logging out ends the session; a copy of its cookie must not outlive it.
    before = client.raw.cookies[settings.SESSION_COOKIE_NAME].value
    assert client.post("/api/auth/logout/").status_code == 204

    assert all(_not_found(r) for r in _every_action(_with_session_key(before), at_company))
    assert _token_client(started["token"]).get(flow_url(at_company["id"])).status_code == 200


def test_a_session_key_rotated_by_the_application_opens_no_flow_once_the_owner_key_is(
    client: FlowClient, at_company: dict[str, Any]
) -> None:
    before = cycle_session_key(client)
    session = client.raw.session
    ownership.rotate_owner_key(session)
    session.save()

    assert _not_found(_with_session_key(before).show(at_company["id"]))
    assert position(client, at_company["id"]) == ("company", 2)


def test_rotating_the_owner_key_moves_every_flow_of_the_session(
    client: FlowClient, other_client: FlowClient
) -> None:
    first, second = client.start().json(), client.start().json()
    theirs = other_client.start().json()
    session = client.raw.session
    ownership.rotate_owner_key(session)
    session.save()

    assert client.show(first["id"]).status_code == 200
    assert client.show(second["id"]).status_code == 200
    assert _not_found(client.show(theirs["id"]))
    assert other_client.show(theirs["id"]).status_code == 200
