"""The store contract: every store passes these, the database's and Redis'.

The database store runs on whichever database the suite runs on (SQLite,
and PostgreSQL in CI); the Redis store on the Redis at `TEST_REDIS_URL`
(127.0.0.1:6379 by default), each test under a key prefix of its own.
"""

import itertools
import os
import re
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backend.pipeline import store as store_module
from backend.pipeline.models import Flow
from backend.pipeline.redis_store import RedisStore
from backend.pipeline.state import FlowState, Frame
from backend.pipeline.store import DatabaseStore, FlowStore, get_store

pytestmark = pytest.mark.django_db

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_client() -> redis.Redis:
    """The test Redis; absent outside CI, the Redis tests are skipped, in CI they fail."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs the Redis at {REDIS_URL}")
        pytest.skip(f"no Redis at {REDIS_URL}")
    return client


@pytest.fixture(params=["database", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[FlowStore]:
    if request.param == "database":
        yield DatabaseStore()
        return
    client = redis_client()
    prefix = f"test-{uuid.uuid4().hex}:"
    yield RedisStore(client=client, prefix=prefix)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


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


def test_the_redis_store_is_chosen_by_setting(settings: object) -> None:
    settings.PIPELINE_STORE = "backend.pipeline.redis_store.RedisStore"  # type: ignore[attr-defined]
    assert isinstance(get_store(), RedisStore)


def test_create_then_load_returns_the_same_flow(store: FlowStore) -> None:
    state = _flow()
    state.frame.data = {"profile": {"email": "a@example.com"}}
    state.frame.child = Frame(pipeline="account", provider="x", bind_key="k", data={"a": 1})
    store.create(state)

    loaded = store.load(state.id)
    assert loaded == state


def test_a_failed_flow_keeps_the_path_it_failed_at(store: FlowStore) -> None:
    state = _flow()
    store.create(state)
    state.status = "failed"
    state.final_path = [
        {
            "pipeline": "onboarding",
            "provider": "default",
            "name": "company",
            "index": 1,
            "total": 3,
        }
    ]
    assert store.compare_and_set(state, state.version)

    assert store.load(state.id) == state


@pytest.mark.parametrize("flow_id", ["", "nope", "0" * 33, "../etc", "\x00", "é" * 32])
def test_load_of_something_that_is_no_flow_id_is_none(store: FlowStore, flow_id: str) -> None:
    assert store.load(flow_id) is None


def test_a_flow_has_one_id_form_only(store: FlowStore) -> None:
    state = _flow()
    store.create(state)
    as_uuid = uuid.UUID(hex=state.id)
    for alias in (state.id.upper(), str(as_uuid), as_uuid.urn, "{" + str(as_uuid) + "}"):
        assert store.load(alias) is None


def test_latest_is_the_newest_flow_of_that_pipeline_and_session(store: FlowStore) -> None:
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


def test_load_by_token_finds_the_flow_by_its_token_hash(store: FlowStore) -> None:
    state = _flow()
    store.create(state)
    found = store.load_by_token(state.token_hash)
    assert found is not None
    assert found.id == state.id
    assert store.load_by_token("") is None
    assert store.load_by_token("cd" * 32) is None


def test_compare_and_set_writes_and_bumps_the_version(store: FlowStore) -> None:
    state = _flow()
    store.create(state)
    state.frame.step_index = 1
    assert store.compare_and_set(state, 1)
    assert state.version == 2
    loaded = store.load(state.id)
    assert loaded is not None
    assert (loaded.version, loaded.frame.step_index) == (2, 1)


def test_compare_and_set_with_a_stale_version_writes_nothing(store: FlowStore) -> None:
    state = _flow()
    store.create(state)
    assert store.compare_and_set(state, 1)
    state.frame.step_index = 5
    assert not store.compare_and_set(state, 1)
    loaded = store.load(state.id)
    assert loaded is not None
    assert (loaded.version, loaded.frame.step_index) == (2, 0)


def test_the_database_store_purges_only_expired_flows() -> None:
    store = DatabaseStore()
    now = timezone.now()
    expired = _flow(expires_at=now - timedelta(seconds=1))
    alive = _flow()
    store.create(expired)
    store.create(alive)
    store.register_callback(expired, "a" * 64, now)  # deleted with its flow, not counted
    assert store.purge_expired(now) == 1
    assert store.find_callback("a" * 64) is None
    assert store.load(expired.id) is None
    assert store.load(alive.id) is not None


def test_the_database_store_purges_in_batches_reading_no_state(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A backlog of expired flows must not be loaded whole, states and all.
    monkeypatch.setattr(store_module, "PURGE_BATCH", 2)
    store = DatabaseStore()
    now = timezone.now()
    expired = [_flow(expires_at=now - timedelta(seconds=1)) for _ in range(5)]
    alive = _flow()
    for state in [*expired, alive]:
        store.create(state)
    for number, state in enumerate(expired):
        store.register_callback(state, f"{number:064x}", now)

    with CaptureQueriesContext(connection) as queries:
        assert store.purge_expired(now) == 5

    reads = [query["sql"] for query in queries if query["sql"].startswith("SELECT")]
    assert len(reads) >= 3  # three batches of ids, then none left
    assert not any('"data"' in sql or '"config"' in sql for sql in reads)
    assert all(store.find_callback(f"{number:064x}") is None for number in range(5))
    assert store.load(alive.id) is not None


def test_redis_drops_a_flow_a_grace_period_after_it_expires(settings: object) -> None:
    store = RedisStore(client=redis_client(), prefix=f"test-{uuid.uuid4().hex}:")
    settings.PIPELINE_REDIS_GRACE = 600  # type: ignore[attr-defined]
    state = _flow()
    store.create(state)
    remaining = store.client.pttl(f"{store.prefix}flow:{state.id}")
    expected = (state.expires_at - timezone.now()).total_seconds() * 1000 + 600_000
    assert abs(int(remaining) - expected) < 5_000
    store.delete(state.id)


def test_count_active_counts_the_unfinished_unexpired_flows_of_one_owner(
    store: FlowStore,
) -> None:
    now = timezone.now()
    mine = [_flow(session_hash="s1") for _ in range(3)]
    for state in mine:
        store.create(state)
    store.create(_flow(session_hash="s2"))
    store.create(_flow(session_hash="s1", expires_at=now - timedelta(seconds=1)))
    finished = mine[0]
    finished.status = "complete"
    assert store.compare_and_set(finished, finished.version)

    assert store.count_active(user_id=None, session_hash="s1", now=now) == 2
    assert store.count_active(user_id=None, session_hash="s3", now=now) == 0


@pytest.mark.parametrize("user_bound", [False, True], ids=["session", "user"])
def test_create_within_stores_a_flow_only_while_its_owner_has_fewer_unfinished_than_the_limit(
    store: FlowStore, user_bound: bool, django_user_model: Any
) -> None:
    user_id = django_user_model.objects.create(username="limited").pk if user_bound else None
    now = timezone.now()

    def mine(**changes: object) -> FlowState:
        return _flow(session_hash="s1", user_id=user_id, **changes)

    finished = mine(status="complete")
    store.create(finished)
    store.create(mine(expires_at=now - timedelta(seconds=1)))
    first, second, refused = mine(), mine(), mine()

    assert store.create_within(first, 2)
    assert store.create_within(second, 2)
    assert not store.create_within(refused, 2)

    assert store.load(refused.id) is None
    assert store.count_active(user_id=user_id, session_hash="s1", now=now) == 2
    another_owner = _flow(session_hash="s2")
    assert store.create_within(another_owner, 2)
    assert store.load(another_owner.id) is not None


def test_on_other_databases_the_database_store_counts_then_inserts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Databases not known to take the one-statement form get the two statements.
    monkeypatch.setattr(store_module, "_GUARDED_INSERT_VENDORS", frozenset())
    store = DatabaseStore()
    store.create(_flow(session_hash="s1"))
    with CaptureQueriesContext(connection) as captured:
        refused = _flow(session_hash="s1")
        assert not store.create_within(refused, 1)
        assert store.create_within(_flow(session_hash="s1"), 2)
    assert [query["sql"].split()[0] for query in captured.captured_queries] == [
        "SELECT",
        "SELECT",
        "INSERT",
    ]
    assert store.load(refused.id) is None


def test_redis_keeps_the_limit_when_starts_race() -> None:
    # The count and the creation are one script: no two starts see the same count.
    client = redis_client()
    prefix = f"test-{uuid.uuid4().hex}:"
    store = RedisStore(client=client, prefix=prefix)
    racers = 8
    barrier = threading.Barrier(racers)
    created: list[bool] = []

    def start() -> None:
        state = _flow(session_hash="s1")
        barrier.wait()
        created.append(store.create_within(state, 3))

    threads = [threading.Thread(target=start) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert created.count(True) == 3
        assert store.count_active(user_id=None, session_hash="s1", now=timezone.now()) == 3
    finally:
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)


def test_rebinding_a_session_moves_all_its_flows_and_only_its(store: FlowStore) -> None:
    now = timezone.now()
    active, finished = _flow(session_hash="s1"), _flow(session_hash="s1")
    other = _flow(session_hash="s2")
    for state in (active, finished, other):
        store.create(state)
    finished.status = "complete"
    assert store.compare_and_set(finished, finished.version)

    store.rebind_session("s1", "s3")

    for state in (active, finished):
        loaded = store.load(state.id)
        assert loaded is not None
        assert loaded.session_hash == "s3"
    latest = store.latest("onboarding", "s3")
    assert latest is not None
    assert latest.id in {active.id, finished.id}
    assert store.latest("onboarding", "s1") is None
    assert store.count_active(user_id=None, session_hash="s3", now=now) == 1
    assert store.count_active(user_id=None, session_hash="s1", now=now) == 0
    still = store.load(other.id)
    assert still is not None
    assert still.session_hash == "s2"


def test_a_step_written_after_a_rebind_keeps_the_new_owner(store: FlowStore) -> None:
    # The step read the flow before the session's login moved it.
    state = _flow(session_hash="s1")
    store.create(state)
    read_before = store.load(state.id)
    assert read_before is not None

    store.rebind_session("s1", "s3")
    read_before.frame.step_index = 1
    assert store.compare_and_set(read_before, read_before.version)

    loaded = store.load(state.id)
    assert loaded is not None
    assert (loaded.frame.step_index, loaded.session_hash) == (1, "s3")


@pytest.mark.parametrize("status", ["active", "complete"])
def test_a_step_written_after_a_rebind_counts_for_the_new_owner_as_written(
    store: FlowStore, status: str
) -> None:
    # The step read the flow before the session's login moved it, then wrote it:
    # still unfinished (its expiry moved on), or finished. The new owner's count
    # of unfinished flows follows that write, as for a step written before the login.
    now = timezone.now()
    state = _flow(session_hash="s1")
    store.create(state)
    read_before = store.load(state.id)
    assert read_before is not None

    store.rebind_session("s1", "s3")
    read_before.frame.step_index = 1
    read_before.status = status
    read_before.expires_at = now + timedelta(hours=2)
    assert store.compare_and_set(read_before, read_before.version)

    later = now + timedelta(minutes=90)  # past the expiry the flow had before the step
    expected = 1 if status == "active" else 0
    assert store.count_active(user_id=None, session_hash="s3", now=now) == expected
    assert store.count_active(user_id=None, session_hash="s3", now=later) == expected


def test_rebinding_a_session_onto_one_that_has_flows_keeps_those(store: FlowStore) -> None:
    now = timezone.now()
    moved = _flow(session_hash="s1", created_at=now - timedelta(seconds=2))
    kept = _flow(session_hash="s2", created_at=now - timedelta(seconds=1))
    store.create(moved)
    store.create(kept)

    store.rebind_session("s1", "s2")

    latest = store.latest("onboarding", "s2")
    assert latest is not None
    assert latest.id == kept.id
    assert store.count_active(user_id=None, session_hash="s2", now=now) == 2


def test_rebinding_a_session_onto_its_own_owner_key_keeps_its_flows(store: FlowStore) -> None:
    now = timezone.now()
    state = _flow(session_hash="s1")
    store.create(state)

    store.rebind_session("s1", "s1")

    latest = store.latest("onboarding", "s1")
    assert latest is not None
    assert latest.id == state.id
    assert store.count_active(user_id=None, session_hash="s1", now=now) == 1


def test_callbacks_are_found_and_spent_once(store: FlowStore) -> None:
    now = timezone.now()
    state = _flow()
    store.create(state)
    store.register_callback(state, "cb" * 32, now)

    found = store.find_callback("cb" * 32)
    assert found is not None
    assert (found.flow_id, found.used, found.used_at) == (state.id, False, None)
    assert store.use_callback("cb" * 32, now)
    assert not store.use_callback("cb" * 32, now + timedelta(seconds=5))
    spent = store.find_callback("cb" * 32)
    assert spent is not None
    assert spent.used
    assert spent.used_at is not None
    assert abs(spent.used_at - now) < timedelta(milliseconds=1)  # when it was spent, kept
    assert store.find_callback("ff" * 32) is None


def test_redis_reads_a_callback_an_older_release_spent_as_spent_long_ago() -> None:
    store = RedisStore(client=redis_client(), prefix=f"test-{uuid.uuid4().hex}:")
    state = _flow()
    store.create(state)
    store.register_callback(state, "cb" * 32, timezone.now())
    store.client.hset(store._key("callback", "cb" * 32), "used", "1")  # as it marked them
    try:
        spent = store.find_callback("cb" * 32)
        assert spent is not None
        assert spent.used_at is not None
        assert spent.used_at < timezone.now() - timedelta(days=365)
    finally:
        store.delete(state.id)


def test_delete_forgets_the_flow(store: FlowStore) -> None:
    state = _flow()
    store.create(state)
    store.delete(state.id)
    assert store.load(state.id) is None


def test_delete_forgets_the_callback_states_the_flow_issued(store: FlowStore) -> None:
    state = _flow()
    store.create(state)
    store.register_callback(state, "cb" * 32, timezone.now())

    store.delete(state.id)

    assert store.find_callback("cb" * 32) is None


@pytest.mark.django_db(transaction=True)
def test_concurrent_compare_and_set_lets_exactly_one_writer_win(store: FlowStore) -> None:
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


@pytest.mark.parametrize("user_bound", [False, True], ids=["session", "user"])
@pytest.mark.parametrize("counted_by", ["count_active", "create_within"])
def test_counting_unfinished_flows_reads_only_the_index_of_active_ones(
    user_bound: bool, counted_by: str, django_user_model: Any
) -> None:
    """A start counts unfinished flows by a partial index, however many the owner finished."""
    user = django_user_model.objects.create(username="counted") if user_bound else None
    store = DatabaseStore()
    # Owners with many finished flows, and statistics that say so: the
    # planner then weighs the indexes as it would on a real table.
    finished = [_flow(session_hash="s1", status="complete") for _ in range(400)]
    for state in finished:
        state.user_id = user.pk if user else None
        store.create(state)
    store.create(_flow(session_hash="s1"))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    user_id = user.pk if user else None
    sent: list[tuple[str, Any]] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        sent.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        if counted_by == "count_active":
            count = store.count_active(user_id=user_id, session_hash="s1", now=timezone.now())
        else:
            # With a limit of one, refused exactly when one unfinished flow is counted.
            refused = not store.create_within(_flow(session_hash="s1", user_id=user_id), 1)
            count = int(refused)
    ((sql, params),) = sent  # counted and inserted in one statement
    expected = "flow_active_by_user" if user_bound else "flow_active_by_session"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")  # a small table is scanned otherwise
            cursor.execute(f"EXPLAIN {sql}", params)
            assert expected in " ".join(str(row) for row in cursor.fetchall())
            # Prepared (`backend.pipeline.prepared`), the statement may be
            # planned once for any values: that generic plan takes the index too.
            numbers = itertools.count(1)
            numbered = re.sub(r"%s", lambda _: f"${next(numbers)}", sql)
            cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            cursor.execute(f"PREPARE counting AS {numbered}")
            marks = ", ".join(["%s"] * len(params))
            cursor.execute(f"EXPLAIN EXECUTE counting({marks})", params)
            plan = " ".join(str(row) for row in cursor.fetchall())
            cursor.execute("DEALLOCATE counting")
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            plan = " ".join(str(row) for row in cursor.fetchall())
    assert expected in plan
    assert count == (0 if user_bound else 1)


def test_the_database_store_reads_and_writes_the_rows_the_orm_does() -> None:
    """The admin and `clearpipelines` go through the model: both ways must agree."""
    store = DatabaseStore()
    state = _flow(result={"done": True}, errors=[{"code": "x", "message": "y", "field": None}])
    state.frame.data = {"profile": {"email": "a@example.com"}}
    store.create(state)
    row = Flow.objects.get(pk=uuid.UUID(state.id))
    assert (row.expires_at, row.data, row.result) == (
        state.expires_at,
        state.frame.data,
        state.result,
    )

    row.step_index, row.data = 2, {"changed": [1, 2]}
    row.save()
    loaded = store.load(state.id)
    assert loaded is not None
    assert (loaded.frame.step_index, loaded.frame.data) == (2, {"changed": [1, 2]})
    assert (loaded.created_at, loaded.errors) == (state.created_at, state.errors)
