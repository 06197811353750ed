"""The flow store: compare-and-set, lookups, expiry (on SQLite and PostgreSQL)."""

import threading
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from backend.pipeline.state import FlowState, Frame
from backend.pipeline.store import DatabaseStore, get_store

pytestmark = pytest.mark.django_db


def _flow(**changes: object) -> FlowState:
    now = timezone.now()
    state = FlowState(
        id=uuid.uuid4().hex,
        frame=Frame(pipeline="onboarding", provider="default", signature="s"),
        created_at=now,
        updated_at=now,
        expires_at=now + timedelta(hours=1),
        token_hash="ab" * 32,
    )
    for name, value in changes.items():
        setattr(state, name, value)
    return state


def test_default_store_is_the_database_store() -> None:
    assert isinstance(get_store(), DatabaseStore)


def test_create_then_load_returns_the_same_flow() -> None:
    store = DatabaseStore()
    state = _flow()
    state.frame.data = {"profile": {"email": "a@example.com"}}
    state.frame.child = Frame(pipeline="account", provider="x", bind_key="k", data={"a": 1})
    store.create(state)

    loaded = store.load(state.id)
    assert loaded == state


@pytest.mark.parametrize("flow_id", ["", "nope", "0" * 33, "../etc", "\x00", "é" * 32])
def test_load_of_something_that_is_no_flow_id_is_none(flow_id: str) -> None:
    assert DatabaseStore().load(flow_id) is None


def test_a_flow_has_one_id_form_only() -> None:
    store = DatabaseStore()
    state = _flow()
    store.create(state)
    as_uuid = uuid.UUID(hex=state.id)
    for alias in (state.id.upper(), str(as_uuid), as_uuid.urn, "{" + str(as_uuid) + "}"):
        assert store.load(alias) is None


def test_latest_is_the_newest_flow_of_that_pipeline_and_session() -> None:
    store = DatabaseStore()
    now = timezone.now()
    older = _flow(session_hash="s1", created_at=now - timedelta(seconds=2))
    newer = _flow(session_hash="s1", created_at=now - timedelta(seconds=1))
    other_session = _flow(session_hash="s2", created_at=now)
    other_pipeline = _flow(session_hash="s1", created_at=now)
    other_pipeline.frame.pipeline = "identity"
    for state in (older, newer, other_session, other_pipeline):
        store.create(state)

    latest = store.latest("onboarding", "s1")
    assert latest is not None
    assert latest.id == newer.id
    assert store.latest("onboarding", "s3") is None


def test_load_by_token_finds_the_flow_by_its_token_hash() -> None:
    store = DatabaseStore()
    state = _flow()
    store.create(state)
    found = store.load_by_token(state.token_hash)
    assert found is not None
    assert found.id == state.id
    assert store.load_by_token("") is None
    assert store.load_by_token("cd" * 32) is None


def test_compare_and_set_writes_and_bumps_the_version() -> None:
    store = DatabaseStore()
    state = _flow()
    store.create(state)
    state.frame.step_index = 1
    assert store.compare_and_set(state, 1)
    assert state.version == 2
    loaded = store.load(state.id)
    assert loaded is not None
    assert (loaded.version, loaded.frame.step_index) == (2, 1)


def test_compare_and_set_with_a_stale_version_writes_nothing() -> None:
    store = DatabaseStore()
    state = _flow()
    store.create(state)
    assert store.compare_and_set(state, 1)
    state.frame.step_index = 5
    assert not store.compare_and_set(state, 1)
    loaded = store.load(state.id)
    assert loaded is not None
    assert (loaded.version, loaded.frame.step_index) == (2, 0)


def test_purge_expired_deletes_only_expired_flows() -> None:
    store = DatabaseStore()
    now = timezone.now()
    expired = _flow(expires_at=now - timedelta(seconds=1))
    alive = _flow()
    store.create(expired)
    store.create(alive)
    assert store.purge_expired(now) == 1
    assert store.load(expired.id) is None
    assert store.load(alive.id) is not None


def test_delete_forgets_the_flow() -> None:
    store = DatabaseStore()
    state = _flow()
    store.create(state)
    store.delete(state.id)
    assert store.load(state.id) is None


@pytest.mark.django_db(transaction=True)
def test_concurrent_compare_and_set_lets_exactly_one_writer_win() -> None:
    store = DatabaseStore()
    state = _flow()
    store.create(state)
    writers = 8
    barrier = threading.Barrier(writers)
    wins: list[int] = []

    def write(step: int) -> None:
        try:
            mine = store.load(state.id)
            assert mine is not None
            mine.frame.step_index = step
            barrier.wait(timeout=10)
            if store.compare_and_set(mine, 1):
                wins.append(step)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(step,)) for step in range(1, writers + 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(wins) == 1
    loaded = store.load(state.id)
    assert loaded is not None
    assert (loaded.version, loaded.frame.step_index) == (2, wins[0])
