"""Which of the flow table's statements run prepared, and that they read and write the same."""

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backend.pipeline import prepared
from backend.pipeline.state import FlowState, Frame
from backend.pipeline.store import DatabaseStore

pytestmark = pytest.mark.django_db


def _flow() -> FlowState:
    now = timezone.now()
    return FlowState(
        id=uuid.uuid4().hex,
        frame=Frame(pipeline="onboarding", provider="default", signature="s", data={"a": [1]}),
        created_at=now,
        updated_at=now,
        expires_at=now + timedelta(hours=1),
        token_hash=uuid.uuid4().hex,
    )


@pytest.fixture
def fresh_counts() -> Iterator[None]:
    """Uses counted from nothing, on a connection that has prepared nothing."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    saved = dict(prepared._uses)
    prepared._uses.clear()
    if connection.vendor == "postgresql":
        connection.connection._prepared.clear()  # psycopg's names for what it prepared
        with connection.cursor() as cursor:
            cursor.execute("DEALLOCATE ALL")
    yield
    prepared._uses.clear()
    prepared._uses.update(saved)


def _prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.postgresql
@pytest.mark.usefixtures("fresh_counts")
def test_a_statement_runs_prepared_from_its_third_use_on_a_connection() -> None:
    store = DatabaseStore()
    state = _flow()
    store.create(state)
    for _ in range(prepared.PREPARED_FROM_USE - 1):
        store.load(state.id)
    assert not any("pipeline_flow" in statement for statement in _prepared_statements())

    with CaptureQueriesContext(connection) as captured:
        store.load(state.id)
    (statement,) = [s for s in _prepared_statements() if "pipeline_flow" in s]
    assert statement.startswith("SELECT")
    assert "$1" in statement
    # Logged as it was sent, placeholders and all.
    assert [query["sql"] for query in captured.captured_queries] == [statement]


@pytest.mark.postgresql
@pytest.mark.usefixtures("fresh_counts")
def test_behind_a_transaction_pooler_nothing_is_prepared(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(connection.settings_dict, "DISABLE_SERVER_SIDE_CURSORS", True)
    store = DatabaseStore()
    state = _flow()
    store.create(state)
    for _ in range(prepared.PREPARED_FROM_USE * 2):
        assert store.load(state.id) is not None
    assert _prepared_statements() == []


@pytest.mark.usefixtures("fresh_counts")
def test_prepared_statements_read_and_write_what_the_first_uses_did() -> None:
    store = DatabaseStore()
    state = _flow()
    store.create(state)
    first = store.load(state.id)
    for version in range(1, prepared.PREPARED_FROM_USE + 2):
        assert store.load(state.id) == first
        assert first is not None
        first.frame.data = {"step": version, "nested": {"list": [version, None]}}
        first.errors = [{"code": "c", "message": "m", "field": None}]
        assert store.compare_and_set(first, first.version)
        assert not store.compare_and_set(first, first.version - 1)
    loaded = store.load(state.id)
    assert loaded == first
    assert loaded is not None
    assert loaded.expires_at.tzinfo is not None
