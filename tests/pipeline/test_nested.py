"""Nested pipelines keep the semantics of Sentry's pipeline."""

from typing import Any

import pytest
from rest_framework.test import APIClient

from backend.pipeline import FormView
from backend.pipeline.store import get_store
from tests.conftest import FlowClient
from tests.pipeline import examples
from tests.pipeline.conftest import session_request

pytestmark = pytest.mark.usefixtures("examples")


def _into_name_step(client: FlowClient) -> dict[str, Any]:
    started = client.start("setup", "setup").json()
    moved: dict[str, Any] = client.submit(started, {"email": "ada@example.com"}).json()
    return moved


def test_nested_steps_are_shown_with_the_chain_in_step_path(client: FlowClient) -> None:
    started = client.start("setup", "setup").json()
    step = started["step"]
    assert step["name"] == "email"
    assert (step["index"], step["total"]) == (0, 2)
    assert step["path"] == [
        {"pipeline": "setup", "provider": "setup", "name": "account", "index": 0, "total": 2},
        {"pipeline": "account", "provider": "account", "name": "email", "index": 0, "total": 2},
    ]


def test_nested_pipeline_gets_the_config_of_its_view(client: FlowClient) -> None:
    started = client.start("setup", "setup").json()
    assert started["title"] == "Work email"


def test_nested_pipeline_advances_inside_the_parent_step(client: FlowClient) -> None:
    moved = _into_name_step(client)
    assert moved["step"]["name"] == "name"
    assert moved["step"]["index"] == 0
    assert moved["step"]["path"][-1]["index"] == 1


def test_nested_result_is_bound_under_bind_key_without_calling_its_finish(
    client: FlowClient,
) -> None:
    # AccountPipeline.finish_pipeline raises if called.
    confirm = client.submit(_into_name_step(client), {"name": "Ada"}).json()
    assert confirm["step"]["name"] == "confirm"
    assert confirm["step"]["path"] == [
        {"pipeline": "setup", "provider": "setup", "name": "confirm", "index": 1, "total": 2}
    ]
    state = get_store().load(confirm["id"])
    assert state is not None
    assert state.frame.child is None
    assert state.frame.data["account"] == {
        "email": {"email": "ada@example.com"},
        "name": {"name": "Ada"},
    }

    done = client.submit(confirm, {}).json()
    assert done["result"] == {"account": state.frame.data["account"]}


def test_back_inside_a_nested_pipeline_moves_the_nested_step(client: FlowClient) -> None:
    moved = _into_name_step(client)
    assert [action["name"] for action in moved["actions"]] == ["submit", "back", "cancel"]
    back = client.back(moved).json()
    assert back["step"]["name"] == "email"
    assert back["form"]["data"] == {"email": "ada@example.com"}


def test_back_from_the_first_nested_step_of_the_first_parent_step_is_refused(
    client: FlowClient,
) -> None:
    started = client.start("setup", "setup").json()
    assert "back" not in [action["name"] for action in started["actions"]]
    refused = client.back(started)
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "back_not_allowed"


def test_back_into_a_finished_nested_pipeline_starts_it_afresh(client: FlowClient) -> None:
    confirm = client.submit(_into_name_step(client), {"name": "Ada"}).json()
    back = client.back(confirm).json()
    assert back["step"]["name"] == "email"
    assert back["step"]["path"][-1]["index"] == 0
    assert back["form"]["data"] == {}
    # What the finished run bound stays bound until the new run finishes.
    state = get_store().load(back["id"])
    assert state is not None
    assert state.frame.data["account"] == {
        "email": {"email": "ada@example.com"},
        "name": {"name": "Ada"},
    }


def test_back_out_of_a_nested_pipeline_drops_its_run(client: FlowClient) -> None:
    intro = client.start("setup", "introduced").json()
    email = client.submit(intro, {"name": "Ada"}).json()
    name = client.submit(email, {"email": "ada@example.com"}).json()
    assert name["step"]["name"] == "name"

    again = client.back(client.back(name).json()).json()

    assert again["step"]["name"] == "intro"
    state = get_store().load(again["id"])
    assert state is not None
    assert state.frame.child is None
    afresh = client.submit(again, {"name": "Ada"}).json()
    assert (afresh["step"]["name"], afresh["form"]["data"]) == ("email", {})


def test_initialize_resets_the_nested_state(client: FlowClient) -> None:
    first = _into_name_step(client)
    again = client.start("setup", "setup").json()
    assert again["id"] != first["id"]
    state = get_store().load(again["id"])
    assert state is not None
    assert state.frame.child is not None
    assert state.frame.child.step_index == 0
    assert state.frame.child.data == {}


def test_nested_steps_changing_outdates_the_parent_flow(
    client: FlowClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = client.start("setup", "setup").json()
    monkeypatch.setattr(
        examples.AccountProvider,
        "get_pipeline_views",
        lambda self: [FormView(examples.EmailSerializer, name="email")],
    )
    shown = client.show(started["id"])
    assert shown.status_code == 410
    assert shown.json()["error"] == {
        "code": "pipeline_outdated",
        "message": "This flow's steps have changed since it started.",
        "restart": {"pipeline": "setup", "provider": "setup"},
    }


# -- through plain DRF views, as in Sentry's README ------------------------------------------


def test_one_plain_view_runs_the_nested_pipeline_then_the_parent_to_the_end() -> None:
    browser = APIClient()
    email = browser.get("/setup/one/setup/").json()
    assert (email["step"]["name"], email["title"]) == ("email", "Work email")
    name = browser.post("/setup/one/setup/", {"email": "ada@example.com"}, format="json").json()
    assert name["step"]["name"] == "name"
    confirm = browser.post("/setup/one/setup/", {"name": "Ada"}, format="json").json()
    assert confirm["step"]["name"] == "confirm"

    # AccountPipeline.finish_pipeline raises if called.
    done = browser.post("/setup/one/setup/", {}, format="json").json()
    assert done["kind"] == "complete"
    assert done["result"] == {
        "account": {"email": {"email": "ada@example.com"}, "name": {"name": "Ada"}}
    }


def test_two_plain_views_run_the_nested_pipeline_found_through_the_session() -> None:
    browser = APIClient()
    started = browser.post("/setup/init/setup/", {}, format="json").json()
    assert started["step"]["name"] == "email"
    browser.post("/setup/step/", {"email": "ada@example.com"}, format="json")
    confirm = browser.post("/setup/step/", {"name": "Ada"}, format="json").json()
    assert confirm["step"]["name"] == "confirm"
    done = browser.post("/setup/step/", {}, format="json").json()
    assert done["result"]["account"]["name"] == {"name": "Ada"}
    assert browser.post("/setup/step/", {}, format="json").status_code == 400


def test_a_nested_pipeline_as_the_only_step_finishes_the_parent_with_its_state() -> None:
    browser = APIClient()
    browser.get("/setup/one/only_nested/")
    browser.post("/setup/one/only_nested/", {"email": "ada@example.com"}, format="json")
    done = browser.post("/setup/one/only_nested/", {"name": "Ada"}, format="json").json()
    assert done["kind"] == "complete"
    assert done["result"] == {
        "account": {"email": {"email": "ada@example.com"}, "name": {"name": "Ada"}}
    }


def test_a_flow_failed_inside_a_nested_pipeline_drops_what_every_level_bound(
    client: FlowClient,
) -> None:
    # Without what was bound, the nested step would no longer stand where it
    # did (no item step before it): the flow is told as it stood.
    descriptor = client.start("dynamic", "late_then_nested").json()
    descriptor = client.submit(descriptor, {"count": 1}).json()
    at_email = client.submit(descriptor, {"name": "an item"}).json()
    assert [level["name"] for level in at_email["step"]["path"]] == ["first", "email"]
    found = examples.DynamicPipeline.get_for_request(session_request(client.raw))
    assert found is not None
    nested = found.chain()[-1]
    assert nested.fetch_state() == {}

    failed = nested.error("This account is closed.", code="account_closed")

    shown = client.show(at_email["id"])
    assert shown.status_code == 200
    assert shown.json() == failed.data
    assert (shown.json()["status"], shown.json()["errors"][0]["code"]) == (
        "failed",
        "account_closed",
    )
    assert shown.json()["step"]["path"] == at_email["step"]["path"]
    stored = get_store().load(at_email["id"])
    assert stored is not None
    assert stored.frame.child is not None
    assert (stored.frame.data, stored.frame.child.data) == ({}, {})
