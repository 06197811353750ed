"""Limits: stored state per flow, unfinished flows per client, starts per minute."""

from typing import Any

import pytest
from django.db import connection

from backend.pipeline.models import Flow
from tests.conftest import COMPANY, PROFILE, FlowClient

from .conftest import API, error_of, hold_the_flows_lock


def test_a_step_that_would_store_too_much_is_refused_and_keeps_nothing(
    client: FlowClient, settings: Any
) -> None:
    started = client.start().json()
    settings.PIPELINE_MAX_STATE_SIZE = 60
    refused = client.submit(started, PROFILE)

    assert refused.status_code == 413
    assert error_of(refused)["code"] == "state_too_large"
    shown = client.show(started["id"]).json()
    assert (shown["step"]["name"], shown["step"]["version"]) == ("profile", 1)


def test_state_within_the_limit_is_kept(client: FlowClient, settings: Any) -> None:
    settings.PIPELINE_MAX_STATE_SIZE = 1000
    started = client.start().json()
    assert client.submit(started, PROFILE).status_code == 200


def test_a_session_may_not_pile_up_unfinished_flows(client: FlowClient, settings: Any) -> None:
    settings.PIPELINE_MAX_ACTIVE_FLOWS = 2
    first = client.start().json()
    client.start()

    refused = client.start()
    assert refused.status_code == 429
    assert error_of(refused)["code"] == "too_many_flows"
    assert Flow.objects.count() == 2

    client.cancel(first["id"])  # a finished flow no longer counts
    assert client.start().status_code == 201


def test_the_limit_is_per_session(
    client: FlowClient, other_client: FlowClient, settings: Any
) -> None:
    settings.PIPELINE_MAX_ACTIVE_FLOWS = 1
    client.start()
    assert other_client.start().status_code == 201


def test_a_users_flows_count_across_sessions(
    user_client: FlowClient, client: FlowClient, settings: Any
) -> None:
    settings.PIPELINE_MAX_ACTIVE_FLOWS = 1
    user_client.start()
    another_browser = FlowClient()
    another_browser.login("ada", "lovelace-1815")
    refused = another_browser.start()
    assert refused.status_code == 429


def test_completed_flows_do_not_count(client: FlowClient, settings: Any) -> None:
    settings.PIPELINE_MAX_ACTIVE_FLOWS = 1
    descriptor = client.start().json()
    descriptor = client.submit(descriptor, PROFILE).json()
    descriptor = client.submit(descriptor, COMPANY).json()
    client.submit(descriptor, {"accept": True})
    assert client.start().status_code == 201


def test_starts_are_throttled_with_retry_after(client: FlowClient, settings: Any) -> None:
    settings.PIPELINE_START_RATE = "2/min"
    assert [client.start().status_code for _ in range(2)] == [201, 201]

    throttled = client.start()
    assert throttled.status_code == 429
    assert error_of(throttled)["code"] == "throttled"
    assert int(throttled["Retry-After"]) > 0


def _start_from(client: FlowClient, forwarded_for: str) -> int:
    body = {"pipeline": "onboarding", "provider": "default"}
    return client.post(API, body, HTTP_X_FORWARDED_FOR=forwarded_for).status_code


def test_a_made_up_forwarded_address_does_not_escape_the_throttle(
    client: FlowClient, settings: Any
) -> None:
    settings.PIPELINE_START_RATE = "2/min"
    answers = [_start_from(client, f"203.0.113.{number}") for number in range(3)]
    assert answers == [201, 201, 429]


def test_behind_a_proxy_the_address_it_forwarded_is_throttled(
    client: FlowClient, settings: Any
) -> None:
    settings.PIPELINE_START_RATE = "1/min"
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    # The client may write any X-Forwarded-For; the proxy appends the address it saw.
    assert _start_from(client, "1.1.1.1, 198.51.100.7") == 201
    assert _start_from(client, "2.2.2.2, 198.51.100.7") == 429
    assert _start_from(client, "198.51.100.8") == 201


def test_only_starts_are_throttled(client: FlowClient, settings: Any) -> None:
    settings.PIPELINE_START_RATE = "1/min"
    started = client.start().json()
    assert client.start().status_code == 429
    assert client.show(started["id"]).status_code == 200
    assert client.submit(started, PROFILE).status_code == 200


def test_each_user_has_a_start_budget_of_their_own(
    user_client: FlowClient, other_client: FlowClient, other_user: Any, settings: Any
) -> None:
    settings.PIPELINE_START_RATE = "1/min"
    other_client.login("grace", "hopper-1906")
    assert user_client.start().status_code == 201
    assert other_client.start().status_code == 201
    assert user_client.start().status_code == 429


# PostgreSQL's outages are in tests/reliability/test_faults.py.
@pytest.mark.django_db(transaction=True)
def test_a_locked_database_answers_503_and_the_flow_goes_on_after(
    client: FlowClient,
) -> None:
    started = client.start().json()
    options = connection.settings_dict["OPTIONS"]
    locker, waiting_briefly = hold_the_flows_lock()
    try:
        connection.close()
        connection.settings_dict["OPTIONS"] = waiting_briefly
        refused = client.submit(started, PROFILE)
    finally:
        locker.rollback()
        locker.close()
        connection.close()
        connection.settings_dict["OPTIONS"] = options

    assert refused.status_code == 503
    assert error_of(refused)["code"] == "database_unavailable"
    assert refused["Retry-After"] == "1"
    moved = client.submit(started, PROFILE)
    assert moved.status_code == 200
    assert moved.json()["step"]["name"] == "company"


def test_catalog_needs_no_throttle(client: FlowClient, settings: Any) -> None:
    settings.PIPELINE_START_RATE = "1/min"
    for _ in range(3):
        assert client.get(API).status_code == 200
