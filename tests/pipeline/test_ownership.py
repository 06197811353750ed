"""Flow tokens and session owner keys: random, kept hashed, compared in constant time.

And what each opens: a token its own flow alone, a session the flows it started.
"""

import dataclasses
import hmac
from typing import Any

import pytest
import redis
from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from backend.pipeline import ownership
from backend.pipeline.models import Flow
from backend.pipeline.state import FlowState
from backend.pipeline.store import get_store
from tests.conftest import FlowClient
from tests.pipeline.examples import SentryPipeline
from tests.pipeline.test_store import redis_client


def test_flow_tokens_are_random_and_long() -> None:
    tokens = {ownership.new_token()[0] for _ in range(100)}
    assert len(tokens) == 100
    assert all(len(token) >= 43 for token in tokens)  # 32 random bytes, base64url


def test_only_the_hash_of_a_flow_token_is_stored(client: FlowClient) -> None:
    started = client.start().json()
    flow = Flow.objects.get()
    assert started["token"] not in {flow.token_hash, str(flow.data), str(flow.config)}
    assert flow.token_hash == ownership.hash_token(started["token"])


def test_only_the_hash_of_the_session_owner_key_is_stored(client: FlowClient) -> None:
    client.start()
    session = client.raw.session
    key = session[ownership.SESSION_KEY]
    flow = Flow.objects.get()
    assert key != flow.session_hash
    assert flow.session_hash == ownership.hash_token(key)


def test_the_owner_key_of_a_session_is_its_key_at_its_first_flow(client: FlowClient) -> None:
    client.start()
    session_key = client.raw.cookies[settings.SESSION_COOKIE_NAME].value
    assert client.raw.session[ownership.SESSION_KEY] == session_key
    client.start()
    assert client.raw.session[ownership.SESSION_KEY] == session_key


def test_tokens_are_compared_in_constant_time(
    client: FlowClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = client.start().json()
    compared: list[tuple[Any, Any]] = []
    real = hmac.compare_digest

    def spy(given: Any, stored: Any) -> bool:
        compared.append((given, stored))
        return bool(real(given, stored))

    monkeypatch.setattr(hmac, "compare_digest", spy)
    response = FlowClient().get(
        f"/api/pipelines/{started['id']}/", HTTP_X_PIPELINE_TOKEN=started["token"]
    )
    assert response.status_code == 200
    assert compared == [(ownership.hash_token(started["token"]), Flow.objects.get().token_hash)]


def _anonymous_request(token: str | None = None) -> Request:
    """A request with a session of its own (no cookie, nothing saved) and no user."""
    headers = {} if token is None else {"X-Pipeline-Token": token}
    raw = APIRequestFactory().get("/", headers=headers)
    raw.session = SessionStore()
    raw.user = AnonymousUser()
    return Request(raw)


def _stored(flow_id: str) -> FlowState:
    state = get_store().load(flow_id)
    assert state is not None
    return state


def test_a_flow_token_finds_no_flow_of_another_pipeline_type(client: FlowClient) -> None:
    onboarding = client.start().json()
    request = _anonymous_request(onboarding["token"])
    assert ownership.latest_flow(request, "onboarding") is not None
    assert ownership.latest_flow(request, "sentry") is None


@pytest.mark.usefixtures("examples")
def test_a_flow_token_of_another_pipeline_type_leaves_the_sessions_own_flow_found(
    client: FlowClient,
) -> None:
    sentry = client.start("sentry", "sentry").json()
    onboarding = client.start().json()
    request = Request(
        APIRequestFactory().get("/", headers={"X-Pipeline-Token": onboarding["token"]})
    )
    request._request.COOKIES = {name: morsel.value for name, morsel in client.raw.cookies.items()}
    request._request.session = client.raw.session
    found = ownership.latest_flow(request, "sentry")
    assert found is not None
    assert found.id == sentry["id"]


def test_a_flow_of_no_session_is_not_owned_by_every_request_without_one(
    client: FlowClient,
) -> None:
    started = client.start().json()
    sessionless = dataclasses.replace(_stored(started["id"]), session_hash="")
    assert not ownership.owns(_anonymous_request(), sessionless)


@pytest.mark.usefixtures("examples")
def test_a_pipeline_given_another_clients_flow_is_not_valid(client: FlowClient) -> None:
    started = client.start("sentry", "sentry").json()
    state = _stored(started["id"])
    assert not SentryPipeline(_anonymous_request(), "sentry", state=state).is_valid()
    mine = _anonymous_request(started["token"])
    assert SentryPipeline(mine, "sentry", state=state).is_valid()


def test_a_failed_login_gives_no_session_to_a_cookie_that_named_none(
    user: Any, settings: Any
) -> None:
    """A made-up cookie, a flow's owner key and a login in one request; the flows' Redis down."""
    redis_client()
    settings.PIPELINE_STORE = "backend.pipeline.redis_store.RedisStore"
    settings.PIPELINE_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    made_up = "madeup" + "0" * 26
    raw = APIRequestFactory().post("/")
    raw.COOKIES[settings.SESSION_COOKIE_NAME] = made_up
    raw.session = SessionStore(made_up)
    raw.user = AnonymousUser()
    assert ownership.session_hash(Request(raw), create=True)

    with pytest.raises(redis.ConnectionError):
        login(raw, user)

    assert not SessionStore().exists(made_up)
