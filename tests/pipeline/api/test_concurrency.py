"""Concurrent submits of one step: exactly one moves the flow, the others get 409.

Each test starts 8 threads, each with its own client and its own database
connection, held at a barrier so that their requests really overlap.
"""

import copy
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from backend.identity.models import Identity
from backend.onboarding.pipeline import OnboardingPipeline
from tests.conftest import CONFIRM, PROFILE, FlowClient

from .conftest import Response, back_url, flow_url, position, script_client

THREADS = 8

pytestmark = pytest.mark.django_db(transaction=True)


def race(
    make_client: Callable[[], APIClient], call: Callable[[APIClient, int], Response]
) -> list[Response]:
    """Run `call(client, i)` in THREADS threads at once; their answers, in thread order."""
    barrier = threading.Barrier(THREADS, timeout=30)
    answers: list[Response | BaseException | None] = [None] * THREADS

    def worker(index: int) -> None:
        try:
            client = make_client()
            barrier.wait()
            answers[index] = call(client, index)
        except BaseException as exc:  # handed to the main thread below
            answers[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    responses: list[Response] = []
    for answer in answers:
        if isinstance(answer, BaseException):
            raise answer
        assert answer is not None
        responses.append(answer)
    return responses


def token_client(token: str) -> Callable[[], APIClient]:
    def make() -> APIClient:
        client = script_client()
        client.credentials(HTTP_X_PIPELINE_TOKEN=token)
        return client

    return make


def tab_of(browser: FlowClient) -> Callable[[], APIClient]:
    """Another tab of the same browser: its session cookie and CSRF token."""

    def make() -> APIClient:
        client = APIClient(enforce_csrf_checks=True)
        client.cookies = copy.deepcopy(browser.raw.cookies)
        client.credentials(HTTP_X_CSRFTOKEN=browser.csrf_token)
        return client

    return make


def submit(
    flow_id: str, version: int, data: dict[str, Any]
) -> Callable[[APIClient, int], Response]:
    def call(client: APIClient, index: int) -> Response:
        response: Response = client.post(
            flow_url(flow_id), {"version": version, "data": data}, format="json"
        )
        return response

    return call


def statuses(responses: list[Response]) -> Counter[int]:
    return Counter(response.status_code for response in responses)


def conflict_codes(responses: list[Response]) -> set[str]:
    return {
        error["code"]
        for response in responses
        if response.status_code == 409
        for error in response.json()["errors"]
    }


@pytest.fixture
def counted_finish(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the calls of OnboardingPipeline.finish_pipeline, from any thread."""
    calls: list[int] = []
    lock = threading.Lock()
    original = OnboardingPipeline.finish_pipeline

    def finish(self: OnboardingPipeline) -> Any:
        with lock:
            calls.append(1)
        return original(self)

    monkeypatch.setattr(OnboardingPipeline, "finish_pipeline", finish)
    return calls


def test_concurrent_submits_of_a_step_move_the_flow_exactly_once(
    client: FlowClient, started: dict[str, Any]
) -> None:
    responses = race(token_client(started["token"]), submit(started["id"], 1, PROFILE))
    assert statuses(responses) == {200: 1, 409: THREADS - 1}
    assert conflict_codes(responses) == {"stale_version"}
    assert position(client, started["id"]) == ("company", 2)


def test_concurrent_submits_from_tabs_of_one_session_move_the_flow_exactly_once(
    client: FlowClient, started: dict[str, Any]
) -> None:
    responses = race(tab_of(client), submit(started["id"], 1, PROFILE))
    assert statuses(responses) == {200: 1, 409: THREADS - 1}
    assert conflict_codes(responses) == {"stale_version"}
    assert position(client, started["id"]) == ("company", 2)


def test_the_losers_of_a_race_are_shown_where_the_winner_left_the_flow(
    started: dict[str, Any],
) -> None:
    responses = race(token_client(started["token"]), submit(started["id"], 1, PROFILE))
    for response in responses:
        assert response.json()["step"]["name"] == "company"
        assert response.json()["step"]["version"] == 2


def test_only_the_winners_data_is_bound(client: FlowClient, at_company: dict[str, Any]) -> None:
    def call(api: APIClient, index: int) -> Response:
        data = {"company": f"Company {index}", "size": "s"}
        response: Response = api.post(
            flow_url(at_company["id"]), {"version": 2, "data": data}, format="json"
        )
        return response

    responses = race(tab_of(client), call)
    winner = next(i for i, response in enumerate(responses) if response.status_code == 200)
    moved = client.show(at_company["id"]).json()
    assert client.back(moved).json()["form"]["data"] == {
        "company": f"Company {winner}",
        "size": "s",
    }


def test_concurrent_backs_move_the_flow_exactly_once(
    client: FlowClient, at_company: dict[str, Any]
) -> None:
    def call(api: APIClient, index: int) -> Response:
        response: Response = api.post(back_url(at_company["id"]), {"version": 2}, format="json")
        return response

    responses = race(tab_of(client), call)
    assert statuses(responses) == {200: 1, 409: THREADS - 1}
    assert position(client, at_company["id"]) == ("profile", 3)


def test_concurrent_submits_of_the_last_step_finish_the_flow_exactly_once(
    client: FlowClient, at_confirm: dict[str, Any], counted_finish: list[int]
) -> None:
    version = at_confirm["step"]["version"]
    responses = race(tab_of(client), submit(at_confirm["id"], version, CONFIRM))
    assert statuses(responses) == {200: 1, 409: THREADS - 1}
    assert conflict_codes(responses) <= {"stale_version", "pipeline_finished"}
    assert len(counted_finish) == 1
    winner = next(response for response in responses if response.status_code == 200)
    assert winner.json()["kind"] == "complete"
    assert client.show(at_confirm["id"]).json()["result"] == winner.json()["result"]


def test_concurrent_finishes_of_an_identity_flow_link_exactly_one_identity(
    user_client: FlowClient, api_token: str
) -> None:
    started = user_client.start("identity", "dummy").json()

    def make() -> APIClient:
        api = script_client()
        api.credentials(HTTP_AUTHORIZATION=f"Token {api_token}")
        return api

    responses = race(make, submit(started["id"], 1, {"email": "ada@example.com"}))
    assert statuses(responses) == {200: 1, 409: THREADS - 1}
    assert Identity.objects.count() == 1
    assert user_client.show(started["id"]).json()["status"] == "complete"


def new_browser() -> APIClient:
    """A browser of its own: a fresh session, with its CSRF token on every request."""
    browser = FlowClient()
    browser.raw.credentials(HTTP_X_CSRFTOKEN=browser.csrf_token)
    return browser.raw


def test_concurrent_starts_make_independent_flows(db: None) -> None:
    def call(api: APIClient, index: int) -> Response:
        body = {"pipeline": "onboarding", "provider": "default"}
        response: Response = api.post("/api/pipelines/", body, format="json")
        return response

    responses = race(new_browser, call)
    assert statuses(responses) == {201: THREADS}
    flows = [response.json() for response in responses]
    assert len({flow["id"] for flow in flows}) == THREADS
    assert len({flow["token"] for flow in flows}) == THREADS
    for flow in flows:
        shown = token_client(flow["token"])().get(flow_url(flow["id"]))
        assert shown.json()["step"] == flow["step"]


def test_tabs_starting_flows_at_once_keep_every_flow(client: FlowClient) -> None:
    first = client.start().json()  # the session, and its owner key, exist from here

    def start(tab: APIClient, index: int) -> Response:
        body = {"pipeline": "onboarding", "provider": "default"}
        return tab.post("/api/pipelines/", body, format="json")

    started = race(tab_of(client), start)

    assert [response.status_code for response in started] == [201] * THREADS
    for flow_id in [first["id"], *(response.json()["id"] for response in started)]:
        assert client.show(flow_id).status_code == 200
