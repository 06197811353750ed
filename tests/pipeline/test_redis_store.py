"""The engine on the Redis store: flows, finishing, callbacks, through the API."""

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis
import time_machine
from django.contrib.auth.models import Group
from django.db import OperationalError
from django.utils import timezone

from backend.onboarding.pipeline import OnboardingPipeline
from backend.pipeline.nested import NestedPipelineView
from backend.pipeline.provider import PipelineProvider
from backend.pipeline.redis_store import RedisStore
from backend.pipeline.store import get_store
from tests.conftest import COMPANY, CONFIRM, PROFILE, FlowClient, state_of
from tests.pipeline.examples import (
    EXAMPLE_PIPELINES,
    AccountPipeline,
    SetupPipeline,
    parent_manager,
)
from tests.pipeline.test_callbacks import _come_back
from tests.pipeline.test_store import REDIS_URL, _flow, redis_client

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
    stored = get_store().load(started["id"])
    assert stored is not None
    assert stored.frame.data == {}  # the name typed went with the flow


def test_a_cancelled_flow_drops_what_it_bound_on_redis(client: FlowClient) -> None:
    at_confirm = _at_confirm(client)
    assert client.cancel(at_confirm["id"]).status_code == 204
    stored = get_store().load(at_confirm["id"])
    assert stored is not None
    assert (stored.status, stored.frame.data) == ("cancelled", {})


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
    # As a rollback leaves it: as it was before the submit, its version too.
    assert shown["step"]["version"] == confirm["step"]["version"]
    assert shown["form"]["data"] == confirm["form"]["data"]
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
    # Its token, its session's flows of its type, its session's types, its owner's
    # unfinished flows.
    assert len(expiries) == 4
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


def _expire_as_redis_would(store: RedisStore) -> None:
    """Drop the keys Redis would have dropped by now (the test's clock), as it expires them."""
    now = int(timezone.now().timestamp() * 1000)
    for key in store.client.scan_iter(f"{store.prefix}*"):
        if 0 < store.client.pexpiretime(key) <= now:
            store.client.delete(key)


def test_a_finish_that_met_an_outage_succeeds_when_the_same_request_is_sent_again_on_redis(
    client: FlowClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # backend/pipeline/README.md, Outages: "nothing is half-written and the same
    # request succeeds once the database is back", as on the database store.
    confirm = _at_confirm(client)

    def database_down(self: OnboardingPipeline) -> Any:
        raise OperationalError("database is locked")

    client.raw.raise_request_exception = False
    with monkeypatch.context() as patched:
        patched.setattr(OnboardingPipeline, "finish_pipeline", database_down)
        assert client.submit(confirm, CONFIRM).status_code == 503

    again = client.submit(confirm, CONFIRM)  # the same request, once the database is back
    assert again.status_code == 200, again.json()
    assert again.json()["status"] == "complete"


def test_a_redis_gone_from_the_claim_until_the_put_back_leaves_the_flow_claimed(
    client: FlowClient, on_redis: RedisStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The gap redis_store.py owns to: Redis goes away right after the claim and is
    # still away when the flow is to be put back (a request answered, not a process
    # killed). finish_pipeline's database writes are rolled back; the flow stays
    # complete with no result.
    confirm = _at_confirm(client)
    write = RedisStore.compare_and_set
    finish = OnboardingPipeline.finish_pipeline

    def redis_down(*args: Any, **kwargs: Any) -> Any:
        raise redis.ConnectionError("Redis went away")

    client.raw.raise_request_exception = False
    with monkeypatch.context() as patched:

        def claim_then_go_away(self: RedisStore, state: Any, expected: int) -> bool:
            written = write(self, state, expected)
            patched.setattr(self.client, "execute_command", redis_down)
            return written

        def finish_writing(self: OnboardingPipeline) -> Any:
            Group.objects.create(name="finished-by-ada")
            return finish(self)

        patched.setattr(RedisStore, "compare_and_set", claim_then_go_away)
        patched.setattr(OnboardingPipeline, "finish_pipeline", finish_writing)
        failed = client.submit(confirm, CONFIRM)
    assert failed.status_code == 503
    assert failed.json()["error"]["code"] == "database_unavailable"

    assert not Group.objects.filter(name="finished-by-ada").exists()
    shown = client.show(confirm["id"]).json()
    assert (shown["status"], shown["result"]) == ("complete", None), shown


def test_a_state_issued_after_the_first_step_lives_as_long_as_its_flow(
    client: FlowClient, on_redis: RedisStore, settings: Any
) -> None:
    # The retried redirect's state is issued while the flow still has the expiry
    # from before that step; the step's write moves the state's on with the flow's.
    settings.PIPELINE_REDIS_GRACE = 0
    with time_machine.travel(timezone.now(), tick=False) as clock:
        started = client.start("roundtrip", "roundtrip").json()
        clock.shift(50 * 60)
        retry = _come_back(client, state_of(started), ticket="bad").json()
        assert retry["step"]["name"] == "go_away"  # a fresh state; the flow lives another hour
        clock.shift(15 * 60)
        _expire_as_redis_would(on_redis)

        back = _come_back(client, state_of(retry))

    assert back.status_code == 200, back.json()
    assert back.json()["step"]["name"] == "after"


def test_a_login_keeps_flows_of_a_type_no_longer_served_answering_410(
    client: FlowClient, user: Any, settings: Any
) -> None:
    # The login moves every flow of the session, of types it no longer serves too,
    # so that the session, which still owns them, is told why it cannot go on.
    started = client.start("roundtrip", "roundtrip").json()
    settings.PIPELINE_CLASSES = [
        p for p in EXAMPLE_PIPELINES if not p.endswith(".RoundTripPipeline")
    ]
    assert client.show(started["id"]).status_code == 410

    client.login("ada", "lovelace-1815")

    shown = client.show(started["id"])
    assert shown.status_code == 410, shown.json()
    assert shown.json()["error"]["code"] == "pipeline_outdated"


class _AccountLastProvider(PipelineProvider):
    """A setup whose last step is the nested account pipeline."""

    key = "account_last"
    name = "Account last"

    def get_pipeline_views(self) -> Any:
        return [
            NestedPipelineView(
                bind_key="account", provider_key="account", pipeline_cls=AccountPipeline
            )
        ]


def test_a_finish_that_crashes_after_a_nested_last_step_puts_the_flow_back_at_that_step(
    client: FlowClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As a rollback leaves it on the database store: where it was before the last
    # submit, inside the nested pipeline at its last step ("name").
    monkeypatch.setitem(parent_manager._providers, "account_last", _AccountLastProvider)
    started = client.start("setup", "account_last").json()
    at_name = client.submit(started, {"email": "ada@example.com"}).json()
    assert at_name["step"]["name"] == "name"

    def crash(self: SetupPipeline) -> Any:
        raise RuntimeError("the mail server is down")

    client.raw.raise_request_exception = False
    with monkeypatch.context() as patched:
        patched.setattr(SetupPipeline, "finish_pipeline", crash)
        assert client.submit(at_name, {"name": "Ada"}).status_code == 500

    shown = client.show(started["id"]).json()
    assert [level["name"] for level in shown["step"]["path"]] == ["account", "name"], shown


def test_a_flow_put_back_after_its_claim_is_as_it_was_read(on_redis: RedisStore) -> None:
    now = timezone.now()
    created = _flow(session_hash="s1")
    on_redis.create(created)
    read = on_redis.load(created.id)
    claim = on_redis.load(created.id)
    assert read is not None
    assert claim is not None
    claim.status, claim.frame.step_index = "complete", 3
    claim.expires_at = now + timedelta(hours=2)
    assert on_redis.compare_and_set(claim, claim.version)

    assert on_redis.restore(read, claim.version)

    assert on_redis.load(created.id) == read  # its version, step and expiry included
    assert on_redis.client.pexpiretime(on_redis._flow(created.id)) == on_redis._expire_at(read)
    assert on_redis.count_active(user_id=None, session_hash="s1", now=now) == 1


def test_a_flow_that_moved_on_since_its_claim_is_not_put_back(on_redis: RedisStore) -> None:
    created = _flow(session_hash="s1")
    on_redis.create(created)
    read = on_redis.load(created.id)
    assert read is not None
    assert on_redis.compare_and_set(created, 1)
    assert on_redis.compare_and_set(created, 2)

    assert not on_redis.restore(read, 2)

    moved = on_redis.load(created.id)
    assert moved is not None
    assert moved.version == 3


def test_a_login_between_reading_a_flow_and_deleting_it_leaves_it_in_no_index(
    on_redis: RedisStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = timezone.now()
    state = _flow(session_hash="s1")
    on_redis.create(state)
    read = RedisStore.load

    def login_meanwhile(self: RedisStore, flow_id: str) -> Any:
        found = read(self, flow_id)
        self.rebind_session("s1", "s3")
        return found

    with monkeypatch.context() as patched:
        patched.setattr(RedisStore, "load", login_meanwhile)
        on_redis.delete(state.id)

    assert on_redis.count_active(user_id=None, session_hash="s3", now=now) == 0
    assert on_redis.client.zscore(on_redis._key("session", "s3", "onboarding"), state.id) is None


@pytest.mark.parametrize("later", ["moved", "kept"])
def test_a_login_onto_an_owner_key_with_flows_keeps_the_later_expiry(
    on_redis: RedisStore, later: str
) -> None:
    now = timezone.now()
    moved = _flow(session_hash="s1", expires_at=now + timedelta(hours=1))
    kept = _flow(session_hash="s2", expires_at=now + timedelta(hours=1))
    {"moved": moved, "kept": kept}[later].expires_at += timedelta(hours=1)
    on_redis.create(moved)
    on_redis.create(kept)

    on_redis.rebind_session("s1", "s2")

    latest = on_redis._expire_at(moved if later == "moved" else kept)
    for key in (
        on_redis._key("session", "s2", "onboarding"),
        on_redis._key("active", "session:s2"),
        on_redis._key("pipelines", "s2"),
    ):
        assert on_redis.client.pexpiretime(key) == latest, key
    assert not on_redis.client.exists(on_redis._key("session", "s1", "onboarding"))


def test_a_login_moves_flows_stored_before_their_sessions_types_were_listed(
    client: FlowClient, on_redis: RedisStore, user: Any
) -> None:
    started = client.start().json()
    state = on_redis.load(started["id"])
    assert state is not None
    on_redis.client.delete(on_redis._key("pipelines", state.session_hash))

    client.login("ada", "lovelace-1815")

    assert client.show(started["id"]).status_code == 200


def test_the_state_a_flow_stored_before_its_states_were_listed_waits_for_moves_with_it(
    on_redis: RedisStore,
) -> None:
    now = timezone.now()
    state = _flow()
    on_redis.create(state)
    on_redis.register_callback(state, "cb" * 32, now)
    on_redis.client.delete(on_redis._key("callbacks", state.id))
    state.callback_hash = "cb" * 32
    state.expires_at = now + timedelta(hours=2)

    assert on_redis.compare_and_set(state, state.version)

    flow_expiry = on_redis.client.pexpiretime(on_redis._flow(state.id))
    assert on_redis.client.pexpiretime(on_redis._key("callback", "cb" * 32)) == flow_expiry
