"""Query budgets of the hot paths, session and user lookups included.

The budgets (`django_assert_max_num_queries`) are the contract; the exact
counts pin what the engine does today, so that a change shows up here:
an anonymous GET is the flow alone (its session cookie opens it, the
session is not read); a submit adds the one conditional UPDATE, the
finishing one a second (the claim, then the result); a logged-in request
adds the session and the user.
"""

from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext
from pytest_django import DjangoAssertNumQueries

from tests.benchmarks.measure import TRANSACTION_CONTROL
from tests.conftest import COMPANY, CONFIRM, PROFILE, FlowClient

from .conftest import cycle_session_key, flow_url, script_client


def test_anonymous_get_stays_within_3_queries(
    client: FlowClient,
    at_company: dict[str, Any],
    django_assert_max_num_queries: DjangoAssertNumQueries,
) -> None:
    with django_assert_max_num_queries(3):
        assert client.show(at_company["id"]).status_code == 200


def test_anonymous_submit_of_a_middle_step_stays_within_3_queries(
    client: FlowClient,
    at_company: dict[str, Any],
    django_assert_max_num_queries: DjangoAssertNumQueries,
) -> None:
    with django_assert_max_num_queries(3):
        assert client.submit(at_company, COMPANY).status_code == 200


def test_anonymous_finishing_submit_stays_within_3_statements(
    client: FlowClient, at_confirm: dict[str, Any]
) -> None:
    assert len(data_statements(client, at_confirm, CONFIRM)) <= 3


def test_logged_in_submit_stays_within_4_queries(
    user_client: FlowClient, django_assert_max_num_queries: DjangoAssertNumQueries
) -> None:
    started = user_client.start().json()
    with django_assert_max_num_queries(4):
        assert user_client.submit(started, PROFILE).status_code == 200


def test_anonymous_get_makes_1_query(
    client: FlowClient,
    at_company: dict[str, Any],
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    with django_assert_num_queries(1):  # the flow
        client.show(at_company["id"])


def test_anonymous_submit_of_a_middle_step_makes_2_queries(
    client: FlowClient,
    at_company: dict[str, Any],
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    with django_assert_num_queries(2):  # flow, conditional update
        client.submit(at_company, COMPANY)


def test_anonymous_finishing_submit_makes_3_statements(
    client: FlowClient, at_confirm: dict[str, Any]
) -> None:
    # the flow, the claim that makes `finish_pipeline` run once, the result
    statements = data_statements(client, at_confirm, CONFIRM)
    assert [sql.split()[0] for sql in statements] == ["SELECT", "UPDATE", "UPDATE"]


def test_anonymous_invalid_submit_makes_1_query(
    client: FlowClient,
    at_company: dict[str, Any],
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    with django_assert_num_queries(1):  # flow; nothing written
        assert client.submit(at_company, {"company": ""}).status_code == 400


def test_stale_submit_makes_1_query(
    client: FlowClient,
    started: dict[str, Any],
    at_company: dict[str, Any],
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    with django_assert_num_queries(1):  # flow; refused before any write
        assert client.submit(started, PROFILE).status_code == 409


def test_another_anonymous_start_makes_2_queries(
    client: FlowClient,
    started: dict[str, Any],
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    # session (is it logged in?), then the insert that counts the session's
    # unfinished flows as it goes: the session is not written again.
    with django_assert_num_queries(2):
        assert client.start().status_code == 201


def test_another_logged_in_start_makes_3_queries(
    user_client: FlowClient, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    user_client.start()
    with django_assert_num_queries(3):  # session, user, the counting insert
        assert user_client.start().status_code == 201


def test_an_anonymous_get_reads_the_session_once_its_key_changed(
    client: FlowClient,
    at_company: dict[str, Any],
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    cycle_session_key(client)
    with django_assert_num_queries(2):  # session (its owner key), flow
        assert client.show(at_company["id"]).status_code == 200


def test_logged_in_get_makes_3_queries(
    user_client: FlowClient, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    started = user_client.start().json()
    with django_assert_num_queries(3):  # session, user, flow
        user_client.show(started["id"])


def test_logged_in_submit_makes_4_queries(
    user_client: FlowClient, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    started = user_client.start().json()
    with django_assert_num_queries(4):  # session, user, flow, conditional update
        user_client.submit(started, PROFILE)


def test_flow_token_submit_makes_2_queries(
    started: dict[str, Any], django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    api = script_client()
    with django_assert_num_queries(2):  # flow, conditional update
        response = api.post(
            flow_url(started["id"]),
            {"version": 1, "data": PROFILE},
            format="json",
            HTTP_X_PIPELINE_TOKEN=started["token"],
        )
    assert response.status_code == 200


def test_auth_token_submit_makes_3_queries(
    user_client: FlowClient, api_token: str, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    started = user_client.start().json()
    api = script_client()
    with django_assert_num_queries(3):  # token and user, flow, conditional update
        response = api.post(
            flow_url(started["id"]),
            {"version": 1, "data": PROFILE},
            format="json",
            HTTP_AUTHORIZATION=f"Token {api_token}",
        )
    assert response.status_code == 200


def test_get_of_an_unknown_flow_makes_no_flow_query_for_a_non_hex_id(
    client: FlowClient, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    with django_assert_num_queries(0):
        assert client.show("not-a-flow-id").status_code == 404


def data_statements(
    client: FlowClient, descriptor: dict[str, Any], data: dict[str, Any]
) -> list[str]:
    """What one submit sends to the database, transaction control left out.

    Finishing claims the flow and writes its result in one transaction,
    whose BEGIN and COMMIT (a savepoint inside a test) cost no work of
    their own; the budget, like the benchmark, counts the rest.
    """
    with CaptureQueriesContext(connection) as captured:
        assert client.submit(descriptor, data).status_code == 200
    return [
        query["sql"]
        for query in captured.captured_queries
        if not TRANSACTION_CONTROL.match(query["sql"])
    ]
