"""The concepts and examples of Sentry's pipeline README, run through plain DRF views."""

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import OperationalError
from django.test import override_settings
from rest_framework.test import APIClient

from backend.pipeline import PipelineNotInitialized
from backend.pipeline.errors import UnknownProvider
from backend.pipeline.store import DatabaseStore, get_store
from tests.conftest import FlowClient
from tests.pipeline.conftest import session_request
from tests.pipeline.examples import (
    EXAMPLE_PIPELINES,
    FailingFinishPipeline,
    GetOnlyManagerPipeline,
    SentryPipeline,
)

pytestmark = pytest.mark.usefixtures("examples")


def test_one_view_initializes_then_traverses() -> None:
    browser = APIClient()
    first = browser.get("/sentry/one/sentry/")
    assert first.status_code == 200
    assert first.json()["step"]["name"] == "get_user_input"

    second = browser.post("/sentry/one/sentry/", {"my_data": "hello"}, format="json")
    assert second.json()["step"]["name"] == "api_token"

    done = browser.post("/sentry/one/sentry/", {"api_token": "t0k"}, format="json")
    assert done.json()["kind"] == "complete"
    assert done.json()["result"] == {"user_input": {"my_data": "hello"}, "token": "t0k"}
    assert len(SentryPipeline.finished) == 1


def test_one_view_starts_again_once_the_flow_is_finished() -> None:
    browser = APIClient()
    browser.get("/sentry/one/sentry/")
    browser.post("/sentry/one/sentry/", {"my_data": "x"}, format="json")
    browser.post("/sentry/one/sentry/", {"api_token": "y"}, format="json")

    again = browser.get("/sentry/one/sentry/")
    assert again.json()["status"] == "active"
    assert again.json()["step"]["index"] == 0


def test_one_view_does_not_reinitialize_a_valid_flow() -> None:
    browser = APIClient()
    first = browser.get("/sentry/one/sentry/").json()
    browser.post("/sentry/one/sentry/", {"my_data": "x"}, format="json")
    shown = browser.get("/sentry/one/sentry/").json()
    assert shown["id"] == first["id"]
    assert shown["step"]["name"] == "api_token"


def test_one_view_with_an_unknown_provider_is_a_404_not_a_crash() -> None:
    response = APIClient().get("/sentry/one/nope/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == UnknownProvider.default_code


def test_two_views_initialize_then_find_the_flow_through_the_session() -> None:
    browser = APIClient()
    started = browser.post("/sentry/init/sentry/", {}, format="json")
    assert started.json()["step"]["name"] == "get_user_input"

    moved = browser.post("/sentry/step/", {"my_data": "hi"}, format="json")
    assert moved.json()["step"]["name"] == "api_token"
    done = browser.post("/sentry/step/", {"api_token": "abc"}, format="json")
    assert done.json()["result"]["token"] == "abc"


def test_two_views_step_view_without_a_flow_answers_400() -> None:
    assert APIClient().post("/sentry/step/", {"my_data": "hi"}, format="json").status_code == 400


def test_initialize_view_clears_an_unfinished_flow_by_starting_afresh() -> None:
    browser = APIClient()
    browser.post("/sentry/init/sentry/", {}, format="json")
    browser.post("/sentry/step/", {"my_data": "old"}, format="json")

    restarted = browser.post("/sentry/init/sentry/", {}, format="json").json()
    assert restarted["step"]["name"] == "get_user_input"
    shown = browser.get("/sentry/step/").json()
    assert shown["id"] == restarted["id"]
    assert shown["step"]["index"] == 0


def test_pipeline_error_ends_the_flow_as_failed() -> None:
    browser = APIClient()
    browser.post("/sentry/init/sentry/", {}, format="json")
    failed = browser.post("/sentry/step/", {"other": 1}, format="json")

    body = failed.json()
    assert failed.status_code == 200
    assert (body["kind"], body["status"]) == ("error", "failed")
    assert body["errors"] == [
        {"code": "pipeline_error", "message": "Data was not sent", "field": None}
    ]
    assert body["actions"] == []


def test_get_for_request_finds_the_most_recent_flow_of_its_type(client: FlowClient) -> None:
    client.start("sentry", "sentry")
    second = client.start("sentry", "sentry").json()
    client.start("onboarding", "default")

    request = session_request(client.raw)
    pipeline = SentryPipeline.get_for_request(request)
    assert pipeline is not None
    assert pipeline.flow is not None
    assert pipeline.flow.id == second["id"]


def test_get_for_request_is_none_without_a_flow(client: FlowClient) -> None:
    assert SentryPipeline.get_for_request(session_request(client.raw)) is None


def test_is_valid_is_false_for_another_session(
    client: FlowClient, other_client: FlowClient
) -> None:
    client.start("sentry", "sentry")
    assert SentryPipeline(session_request(client.raw), "sentry").is_valid()
    assert not SentryPipeline(session_request(other_client.raw), "sentry").is_valid()
    assert SentryPipeline.get_for_request(session_request(other_client.raw)) is None


def test_is_valid_is_false_once_the_flow_expired(
    client: FlowClient, clock: time_machine.Traveller
) -> None:
    client.start("sentry", "sentry")
    clock.shift(settings.PIPELINE_TTL)

    found = SentryPipeline.get_for_request(session_request(client.raw))
    assert found is not None
    assert not found.is_valid()
    assert not SentryPipeline(session_request(client.raw), "sentry").is_valid()


def test_fetch_state_without_a_key_is_everything_bound_so_far(client: FlowClient) -> None:
    pipeline = SentryPipeline(session_request(client.raw), "sentry")
    assert (pipeline.fetch_state(), pipeline.fetch_state("missing")) == ({}, None)
    pipeline.initialize()
    assert pipeline.fetch_state() == {}
    pipeline.bind_state("a", 1)
    pipeline.bind_state("b", {"c": [2]})
    assert pipeline.fetch_state() == {"a": 1, "b": {"c": [2]}}
    assert (pipeline.fetch_state("b"), pipeline.fetch_state("missing")) == ({"c": [2]}, None)


def test_clear_session_drops_the_flow(client: FlowClient) -> None:
    started = client.start("sentry", "sentry").json()
    pipeline = SentryPipeline.get_for_request(session_request(client.raw))
    assert pipeline is not None
    pipeline.clear_session()

    assert get_store().load(started["id"]) is None
    assert client.show(started["id"]).status_code == 404
    with pytest.raises(PipelineNotInitialized):
        pipeline.bind_state("key", "value")


def test_bind_state_and_fetch_state_round_trip_json() -> None:
    browser = APIClient()
    browser.post("/sentry/init/sentry/", {}, format="json")
    browser.post("/sentry/step/", {"my_data": "<b>not html</b>"}, format="json")
    browser.post("/sentry/step/", {"api_token": "t"}, format="json")
    assert SentryPipeline.finished == [
        {"user_input": {"my_data": "<b>not html</b>"}, "api_token": {"api_token": "t"}}
    ]


def test_provider_model_is_looked_up_from_the_flow(client: FlowClient) -> None:
    group = Group.objects.create(name="acme")
    request = session_request(client.raw)
    pipeline = SentryPipeline(request, "sentry", provider_model=group)
    pipeline.initialize()
    request.session.save()

    found = SentryPipeline.get_for_request(session_request(client.raw))
    assert found is not None
    assert found.provider_model == group
    assert found.is_valid()


def test_a_deleted_provider_model_invalidates_the_flow_without_a_crash(
    client: FlowClient,
) -> None:
    group = Group.objects.create(name="acme")
    request = session_request(client.raw)
    pipeline = SentryPipeline(request, "sentry", provider_model=group)
    pipeline.initialize()
    request.session.save()
    assert pipeline.flow is not None
    group.delete()

    found = SentryPipeline.get_for_request(session_request(client.raw))
    assert found is not None
    assert found.provider_model is None
    assert not found.is_valid()
    shown = client.show(pipeline.flow.id)
    assert shown.status_code == 410
    assert shown.json()["error"]["code"] == "pipeline_outdated"
    assert shown.json()["error"]["message"] == "What this flow was started for no longer exists."


def test_config_is_given_to_the_provider_and_kept_with_the_flow(client: FlowClient) -> None:
    request = session_request(client.raw)
    pipeline = SentryPipeline(request, "sentry", config={"scopes": ["read"]})
    assert pipeline.provider.config == {"scopes": ["read"]}
    pipeline.initialize()
    request.session.save()

    found = SentryPipeline.get_for_request(session_request(client.raw))
    assert found is not None
    assert found.config == {"scopes": ["read"]}
    assert found.provider.config == {"scopes": ["read"]}


def test_finish_pipeline_error_keeps_nothing_it_wrote(client: FlowClient) -> None:
    started = client.start("failing", "failing").json()
    failed = client.submit(started, {"name": "ada"})

    assert failed.status_code == 200
    assert failed.json()["status"] == "failed"
    assert failed.json()["errors"][0]["code"] == "name_taken"
    assert not Group.objects.filter(name="written-by-ada").exists()
    assert client.show(started["id"]).json()["status"] == "failed"
    assert FailingFinishPipeline.pipeline_name == "failing"
    stored = get_store().load(started["id"])
    assert stored is not None
    assert stored.frame.data == {}  # the name typed went with the flow


def test_finish_pipeline_runs_once_and_its_result_is_kept(client: FlowClient) -> None:
    descriptor = client.start("sentry", "sentry").json()
    descriptor = client.submit(descriptor, {"my_data": "x"}).json()
    done = client.submit(descriptor, {"api_token": "y"}).json()
    again = client.show(done["id"]).json()

    assert again["kind"] == "complete"
    assert again["result"] == done["result"]
    assert len(SentryPipeline.finished) == 1


def test_get_for_request_works_with_a_provider_manager_that_only_has_get(
    client: FlowClient,
) -> None:
    # Sentry's pipeline README: "There is no explicit interface for the manager
    # object other than that it should have a `get` method that takes the
    # `provider_key`".
    request = session_request(client.raw)
    GetOnlyManagerPipeline(request, "sentry").initialize()
    request.session.save()

    found = GetOnlyManagerPipeline.get_for_request(session_request(client.raw))
    assert found is not None
    assert found.is_valid()


def _at_the_last_step(client: FlowClient, pipeline: str = "sentry") -> dict[str, Any]:
    """A flow of the Sentry example's steps (of `pipeline`), at its last step."""
    descriptor = client.start(pipeline, "sentry").json()
    at_last: dict[str, Any] = client.submit(descriptor, {"my_data": "x"}).json()
    return at_last


def test_finish_pipeline_may_clear_the_session_as_sentrys_pipelines_do(
    client: FlowClient,
) -> None:
    with override_settings(
        PIPELINE_CLASSES=[*EXAMPLE_PIPELINES, "tests.pipeline.examples.ClearingPipeline"]
    ):
        done = client.submit(_at_the_last_step(client, "clearing"), {"api_token": "t0k"})

    assert done.status_code == 200
    assert done.json()["kind"] == "complete"


def test_the_step_view_does_not_resume_a_flow_the_initialize_view_started_over() -> None:
    # Sentry's pipeline README: "if the user does not complete a pipeline, and
    # later comes back to traverse through the same pipeline from the start,
    # the initialize view will clear the pipeline state."
    browser = APIClient()
    browser.post("/sentry/init/sentry/", {}, format="json")
    browser.post("/sentry/step/", {"my_data": "abandoned"}, format="json")
    abandoned = SentryPipeline.get_for_request(session_request(browser))
    assert abandoned is not None
    assert abandoned.flow is not None
    browser.post("/sentry/init/sentry/", {}, format="json")  # back at the start
    restarted = SentryPipeline.get_for_request(session_request(browser))
    assert restarted is not None
    cancelled = get_store().load(abandoned.flow.id)
    assert cancelled is not None
    assert (cancelled.status, cancelled.frame.data) == ("cancelled", {})
    restarted.clear_session()  # the restarted flow is done with

    assert browser.get("/sentry/step/").status_code == 400


def test_the_initialize_view_starts_over_however_often_the_user_comes_back() -> None:
    browser = APIClient()
    for _ in range(settings.PIPELINE_MAX_ACTIVE_FLOWS + 1):
        started = browser.post("/sentry/init/sentry/", {}, format="json")
        assert started.status_code == 200, started.json()
        assert started.json()["step"]["name"] == "get_user_input"


def test_finish_pipeline_may_clear_the_session_after_calling_error(
    client: FlowClient,
) -> None:
    with override_settings(
        PIPELINE_CLASSES=[*EXAMPLE_PIPELINES, "tests.pipeline.examples.ErrorThenClearPipeline"]
    ):
        descriptor = _at_the_last_step(client, "error_then_clear")
        client.raw.raise_request_exception = False
        failed = client.submit(descriptor, {"api_token": "t0k"})
        assert failed.status_code == 200, failed.content
        assert (failed.json()["status"], failed.json()["errors"][0]["code"]) == ("failed", "taken")
        shown = client.show(descriptor["id"])
        assert shown.status_code == 200, shown.content
        assert shown.json()["status"] == "failed"


class _StoreWithoutRollback(DatabaseStore):
    """A store as the FlowStore interface allows one: its writes do not roll back."""

    rolls_back = False

    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        yield


@pytest.fixture
def at_the_last_step_without_rollback(client: FlowClient, settings: Any) -> dict[str, Any]:
    """A Sentry example flow at its last step, kept by a store that cannot roll back."""
    settings.PIPELINE_STORE = f"{__name__}._StoreWithoutRollback"
    client.raw.raise_request_exception = False
    return _at_the_last_step(client)


def test_a_finish_that_fails_on_a_store_that_cannot_roll_back_answers_its_own_error(
    client: FlowClient,
    at_the_last_step_without_rollback: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def database_down(self: SentryPipeline) -> Any:
        raise OperationalError("database is locked")

    monkeypatch.setattr(SentryPipeline, "finish_pipeline", database_down)
    descriptor = at_the_last_step_without_rollback
    refused = client.submit(descriptor, {"api_token": "t0k"})

    assert refused.status_code == 503, refused.content
    shown = client.show(descriptor["id"]).json()
    assert (shown["status"], shown["step"]["name"]) == ("active", "api_token"), shown


def test_a_finish_that_fails_puts_back_what_was_bound_before_it_began(
    client: FlowClient,
    at_the_last_step_without_rollback: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def spoils_then_fails(self: SentryPipeline) -> Any:
        self.bind_state("user_input", None)
        raise OperationalError("database is locked")

    monkeypatch.setattr(SentryPipeline, "finish_pipeline", spoils_then_fails)
    descriptor = at_the_last_step_without_rollback
    assert client.submit(descriptor, {"api_token": "t0k"}).status_code == 503

    stored = get_store().load(descriptor["id"])
    assert stored is not None
    assert stored.frame.data["user_input"] == {"my_data": "x"}
    assert stored.frame.data["api_token"] == {"api_token": "t0k"}
