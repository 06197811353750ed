"""A flow's steps are written beside it, without touching an index (PostgreSQL)."""

from typing import Any

import pytest
from django.db import connection

from backend.pipeline.models import Flow
from tests.benchmarks.drivers import step_data
from tests.conftest import FlowClient

# Committed one by one, as requests write them: PostgreSQL reclaims a dead
# version only once no transaction can still see it.
pytestmark = [pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]

FLOWS = 40
FLOWS_PER_CLIENT = 10


def _updates() -> tuple[int, int]:
    """The flow table's updates so far, and how many of them were HOT."""
    with connection.cursor() as cursor:
        # Counts reach the statistics views once the backend is idle again.
        cursor.execute("SELECT pg_stat_force_next_flush()")
        cursor.execute(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relid = %s::regclass",
            [Flow._meta.db_table],
        )
        row = cursor.fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def test_the_steps_of_flows_started_one_after_another_are_all_hot_updates() -> None:
    clients = [FlowClient() for _ in range(FLOWS // FLOWS_PER_CLIENT)]
    started: list[tuple[FlowClient, dict[str, Any]]] = []
    for number in range(FLOWS):
        client = clients[number // FLOWS_PER_CLIENT]
        started.append((client, client.start().json()))
    updated_before, hot_before = _updates()

    for position in (0, 1):  # every flow's profile, then every flow's company
        moved = []
        for number, (client, descriptor) in enumerate(started):
            _name, data = step_data(number)[position]
            reply = client.submit(descriptor, data)
            assert reply.status_code == 200, reply.content
            moved.append((client, reply.json()))
        started = moved

    updated, hot = _updates()
    assert updated - updated_before == FLOWS * 2
    assert hot - hot_before == FLOWS * 2
