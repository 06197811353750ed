"""The engine on the Redis store: flows, finishing, callbacks, through the API."""

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.utils import timezone

from backend.onboarding.pipeline import OnboardingPipeline
from backend.pipeline.redis_store import RedisStore
from backend.pipeline.store import get_store
from tests.conftest import COMPANY, CONFIRM, PROFILE, FlowClient, state_of
from tests.pipeline.test_callbacks import _come_back
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
    moved = _come_back(client, state_of(started))
    assert moved.json()["step"]["name"] == "after"
    replayed = _come_back(client, state_of(started))
    assert replayed.json()["error"]["code"] == "state_reused"


def test_a_flow_that_moves_keeps_its_indexes_as_long_as_itself(
    client: FlowClient, on_redis: RedisStore
) -> None:
    # Real time, so that Redis, which expires keys by its own clock, keeps them.
    with time_machine.travel(timezone.now(), tick=False) as clock:
        started = client.start().json()
        clock.shift(30 * 60)
        client.submit(started, PROFILE)

    redis = on_redis.client
    expiries = {key: redis.pexpiretime(key) for key in redis.scan_iter(f"{on_redis.prefix}*")}
    flow = expiries.pop(on_redis._flow(started["id"]).encode())
    assert len(expiries) == 3  # its token, its session's flows, its owner's unfinished flows
    assert set(expiries.values()) == {flow}


def test_a_login_moves_no_flow_that_expired_meanwhile(
    client: FlowClient, on_redis: RedisStore
) -> None:
    started = client.start().json()
    state = on_redis.load(started["id"])
    assert state is not None
    on_redis.client.delete(on_redis._flow(started["id"]))  # as Redis expires it

    on_redis.rebind_session(state.session_hash, "after-login")

    assert not on_redis.client.exists(on_redis._flow(started["id"]))


def test_a_flow_no_json_parser_could_read_is_refused_not_stored(
    client: FlowClient, on_redis: RedisStore
) -> None:
    started = client.start().json()
    state = on_redis.load(started["id"])
    assert state is not None
    state.frame.data["measure"] = {"length": float("nan")}

    with pytest.raises(ValueError, match="JSON compliant"):
        on_redis.compare_and_set(state, state.version)

    assert client.show(started["id"]).status_code == 200


def test_cancelling_an_older_flow_keeps_the_sessions_index_for_the_newer(
    client: FlowClient, on_redis: RedisStore, settings: Any
) -> None:
    settings.PIPELINE_REDIS_GRACE = 0
    with time_machine.travel(timezone.now(), tick=False) as clock:
        older = client.start().json()
        clock.shift(30 * 60)
        newer = client.start().json()
        assert client.cancel(older["id"]).status_code == 204  # a write that keeps its expiry

    redis = on_redis.client
    state = on_redis.load(newer["id"])
    assert state is not None
    newest = redis.pexpiretime(on_redis._flow(newer["id"]))
    assert redis.pexpiretime(on_redis._session(state)) == newest
    assert redis.pexpiretime(on_redis._owner(state)) == newest
