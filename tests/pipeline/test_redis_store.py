"""The engine on the Redis store: flows, finishing, callbacks, through the API."""

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Group

from backend.onboarding.pipeline import OnboardingPipeline
from backend.pipeline.redis_store import RedisStore
from backend.pipeline.store import get_store
from tests.conftest import COMPANY, CONFIRM, PROFILE, FlowClient
from tests.pipeline.test_callbacks import _come_back, _state_of
from tests.pipeline.test_store import REDIS_URL, redis_client

pytestmark = pytest.mark.usefixtures("examples")


@pytest.fixture(autouse=True)
def on_redis(settings: Any) -> Iterator[RedisStore]:
    client = redis_client()
    prefix = f"test-{uuid.uuid4().hex}:"
    settings.PIPELINE_STORE = "backend.pipeline.redis_store.RedisStore"
    settings.PIPELINE_REDIS_URL = REDIS_URL
    settings.PIPELINE_REDIS_PREFIX = prefix
    store = get_store()
    assert isinstance(store, RedisStore)
    yield store
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


def _run_onboarding(client: FlowClient) -> dict[str, Any]:
    descriptor: dict[str, Any] = client.start().json()
    for data in (PROFILE, COMPANY, CONFIRM):
        descriptor = client.submit(descriptor, data).json()
    return descriptor


def _at_confirm(client: FlowClient) -> dict[str, Any]:
    descriptor = client.start().json()
    descriptor = client.submit(descriptor, PROFILE).json()
    confirm: dict[str, Any] = client.submit(descriptor, COMPANY).json()
    return confirm


def test_onboarding_runs_to_its_result_on_redis(client: FlowClient, on_redis: RedisStore) -> None:
    done = _run_onboarding(client)
    assert done["status"] == "complete"
    assert done["result"]["company"] == COMPANY["company"]
    assert on_redis.client.exists(f"{on_redis.prefix}flow:{done['id']}")


def test_stale_versions_are_refused_on_redis(client: FlowClient) -> None:
    started = client.start().json()
    client.submit(started, PROFILE)
    stale = client.submit(started, PROFILE)
    assert stale.status_code == 409
    assert stale.json()["errors"][-1]["code"] == "stale_version"


def test_a_finish_that_calls_error_fails_the_flow_and_keeps_nothing_on_redis(
    client: FlowClient,
) -> None:
    started = client.start("failing", "failing").json()
    failed = client.submit(started, {"name": "ada"})
    assert failed.status_code == 200
    assert (failed.json()["status"], failed.json()["errors"][0]["code"]) == (
        "failed",
        "name_taken",
    )
    assert not Group.objects.filter(name="written-by-ada").exists()
    assert client.show(started["id"]).json()["status"] == "failed"


def test_a_finish_that_crashes_puts_the_flow_back_at_its_last_step_on_redis(
    client: FlowClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    confirm = _at_confirm(client)

    def crash(self: OnboardingPipeline) -> Any:
        raise RuntimeError("the mail server is down")

    monkeypatch.setattr(OnboardingPipeline, "finish_pipeline", crash)
    with pytest.raises(RuntimeError):
        client.submit(confirm, CONFIRM)  # the test client re-raises what the view raised
    monkeypatch.undo()

    shown = client.show(confirm["id"]).json()
    assert (shown["status"], shown["step"]["name"]) == ("active", "confirm")
    assert shown["form"]["data"] == CONFIRM  # the last input stays, to prefill
    done = client.submit(shown, CONFIRM).json()
    assert done["status"] == "complete"


def test_a_result_that_cannot_be_written_leaves_the_flow_to_finish_again_on_redis(
    client: FlowClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    confirm = _at_confirm(client)
    write = RedisStore.compare_and_set
    lost: list[int] = []

    def lost_on_the_result(self: RedisStore, state: Any, expected: int) -> bool:
        if state.result is not None and not lost:  # once: the release that follows is written
            lost.append(expected)
            raise ConnectionError("Redis went away")
        return write(self, state, expected)

    monkeypatch.setattr(RedisStore, "compare_and_set", lost_on_the_result)
    with pytest.raises(ConnectionError):
        client.submit(confirm, CONFIRM)
    monkeypatch.undo()

    shown = client.show(confirm["id"]).json()
    assert (shown["status"], shown["step"]["name"]) == ("active", "confirm")
    done = client.submit(shown, CONFIRM).json()
    assert done["status"] == "complete"
    assert done["result"]["company"] == COMPANY["company"]


def test_callbacks_resume_flows_on_redis(client: FlowClient) -> None:
    started = client.start("roundtrip", "roundtrip").json()
    moved = _come_back(client, _state_of(started))
    assert moved.json()["step"]["name"] == "after"
    replayed = _come_back(client, _state_of(started))
    assert replayed.json()["error"]["code"] == "state_reused"


def test_a_flow_stored_with_its_owner_in_its_state_is_still_its_sessions(
    client: FlowClient, on_redis: RedisStore
) -> None:
    # As flows were stored before the owner hash had a field of its own.
    started = client.start().json()
    key = on_redis._flow(started["id"])
    state = on_redis.load(started["id"])
    assert state is not None
    stored = on_redis.client.hget(key, "doc")
    assert stored is not None
    doc = json.loads(stored)
    on_redis.client.hset(key, "doc", json.dumps({**doc, "session_hash": state.session_hash}))
    on_redis.client.hdel(key, "s")

    assert client.show(started["id"]).status_code == 200
    on_redis.rebind_session(state.session_hash, "moved")
    moved = on_redis.load(started["id"])
    assert moved is not None
    assert moved.session_hash == "moved"
