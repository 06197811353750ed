"""Steps that send the browser away and take it back through the callback."""

from typing import Any

import pytest
import time_machine
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from backend.pipeline.ownership import hash_token
from backend.pipeline.store import get_store
from tests.conftest import FlowClient, state_of
from tests.pipeline.examples import RoundTripPipeline

pytestmark = pytest.mark.usefixtures("examples")

CALLBACK = "/api/pipelines/callback/"


def _come_back(client: FlowClient, state: str, ticket: str = "good") -> Any:
    return client.get(f"{CALLBACK}?state={state}&ticket={ticket}", HTTP_ACCEPT="application/json")


def test_a_step_issues_a_state_the_flow_then_waits_for(client: FlowClient) -> None:
    started = client.start("roundtrip", "roundtrip").json()
    assert started["kind"] == "redirect"
    flow = get_store().load(started["id"])
    assert flow is not None
    assert flow.callback_hash == hash_token(state_of(started))  # only its hash is kept


def test_showing_the_step_again_keeps_the_state_it_waits_for(client: FlowClient) -> None:
    started = client.start("roundtrip", "roundtrip").json()
    again = client.show(started["id"]).json()
    assert state_of(again) == state_of(started)
    assert again["step"]["version"] == started["step"]["version"]


def test_next_step_with_the_request_runs_the_next_step_with_that_input(
    client: FlowClient,
) -> None:
    started = client.start("roundtrip", "roundtrip").json()
    moved = _come_back(client, state_of(started))
    assert moved.status_code == 200
    assert moved.json()["step"]["name"] == "after"
    assert get_store().load(started["id"]).frame.data["ticket"] == "good"  # type: ignore[union-attr]


def test_the_spent_state_is_no_longer_awaited(client: FlowClient) -> None:
    started = client.start("roundtrip", "roundtrip").json()
    _come_back(client, state_of(started))
    flow = get_store().load(started["id"])
    assert flow is not None
    assert flow.callback_hash == ""


def test_previous_step_goes_back_with_an_error_kept_until_the_flow_moves(
    client: FlowClient,
) -> None:
    started = client.start("roundtrip", "roundtrip").json()
    failed = _come_back(client, state_of(started), ticket="bad").json()

    assert failed["step"]["name"] == "go_away"
    assert failed["status"] == "active"
    assert failed["errors"] == [
        {"code": "bad_ticket", "message": "That ticket is no good.", "field": None}
    ]
    assert state_of(failed) != state_of(started)  # a fresh attempt
    assert client.show(started["id"]).json()["errors"] == failed["errors"]

    done = _come_back(client, state_of(failed)).json()
    assert done["step"]["name"] == "after"
    assert done["errors"] == []


def test_a_refused_form_shows_its_errors_after_the_flows_own(client: FlowClient) -> None:
    started = client.start("roundtrip", "roundtrip").json()
    after = _come_back(client, state_of(started)).json()
    refused = client.submit(after, {"name": ""}).json()
    assert [error["code"] for error in refused["errors"]] == ["blank"]


def test_only_the_latest_state_issued_is_awaited(client: FlowClient) -> None:
    started = client.start("roundtrip", "roundtrip").json()
    state = get_store().load(started["id"])
    assert state is not None
    request = Request(APIRequestFactory().get("/", headers={"X-Pipeline-Token": started["token"]}))
    pipeline = RoundTripPipeline(request, "roundtrip", state=state)

    older, newer = pipeline.expect_callback(), pipeline.expect_callback()

    assert not pipeline.awaits_callback(older)  # issued, unspent, but no longer the flow's
    assert pipeline.awaits_callback(newer)


def test_a_spent_state_is_awaited_while_its_callback_may_still_run(
    client: FlowClient, settings: Any
) -> None:
    settings.PIPELINE_CALLBACK_TIMEOUT = 30
    started = client.start("roundtrip", "roundtrip").json()
    state = get_store().load(started["id"])
    assert state is not None
    request = Request(APIRequestFactory().get("/", headers={"X-Pipeline-Token": started["token"]}))
    pipeline = RoundTripPipeline(request, "roundtrip", state=state)
    key = pipeline.expect_callback()

    with time_machine.travel(timezone.now(), tick=False) as clock:
        assert get_store().use_callback(hash_token(key), timezone.now())
        clock.shift(29)
        assert pipeline.awaits_callback(key)  # its callback may be exchanging a code
        clock.shift(1)
        assert not pipeline.awaits_callback(key)  # it never wrote: given up
