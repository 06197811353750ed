"""Steps that send the browser away and take it back through the callback."""

from typing import Any

import pytest

from backend.pipeline.ownership import hash_token
from backend.pipeline.store import get_store
from tests.conftest import FlowClient, state_of

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
