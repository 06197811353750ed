"""Flow tokens and session owner keys: random, kept hashed, compared in constant time."""

import hmac
from typing import Any

import pytest
from django.conf import settings

from backend.pipeline import ownership
from backend.pipeline.models import Flow
from tests.conftest import FlowClient


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
