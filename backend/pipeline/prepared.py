"""The flow table's statements, prepared where a PostgreSQL connection runs them often.

Every step reads its flow and writes it back: the same few statements,
over and over. PostgreSQL parses and plans a statement anew each time
unless it is prepared, and Django's cursors bind parameters on the client
and never prepare. Prepared, a flow's read and its compare-and-set each
took 75-82 µs less here, and a whole flow of ours 8-12% less
(PostgreSQL, in-process, tests/benchmarks/README.md).

Preparing costs a round trip of its own, once per statement and
connection. So a statement is prepared on a connection only the third
time it runs there: a connection kept across requests (`CONN_MAX_AGE`, a
pool) prepares each of the table's few statements once and keeps them,
while one that serves a single request, which seldom runs a statement more
than twice, does not pay for it. Behind a proxy that pools by transaction
(PgBouncer's transaction mode), where a prepared statement may be
missing from the server the next transaction lands on, Django asks for
`DISABLE_SERVER_SIDE_CURSORS`; with it set, nothing is prepared.

Statements run prepared are bound on the server, so Django's query log
shows them with `$1`-style placeholders rather than their values.
"""

from __future__ import annotations

import functools
import sys
from collections import Counter
from collections.abc import Callable
from typing import Any
from weakref import WeakKeyDictionary

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper

#: The use of a statement on a connection from which it runs prepared.
PREPARED_FROM_USE = 3

#: How often each statement ran, by driver connection (gone with it).
_uses: WeakKeyDictionary[Any, Counter[str]] = WeakKeyDictionary()


def cursor_for(connection: BaseDatabaseWrapper, sql: str) -> CursorWrapper:
    """A cursor of `connection` to run `sql` on: a preparing one once `sql` runs often there."""
    cursor = connection.cursor()
    if connection.vendor != "postgresql" or connection.settings_dict.get(
        "DISABLE_SERVER_SIDE_CURSORS"
    ):
        return cursor
    driver = connection.connection
    uses = _uses.get(driver)
    if uses is None:
        uses = _uses[driver] = Counter()
    uses[sql] += 1
    if uses[sql] >= PREPARED_FROM_USE:
        # Django's wrapper stays (logging, execute wrappers, error
        # translation); only the driver's cursor under it is swapped.
        client_side = cursor.cursor
        cursor.cursor = _preparing_cursor(connection, driver)
        client_side.close()
    return cursor


def _preparing_cursor(connection: BaseDatabaseWrapper, driver: Any) -> Any:
    """A psycopg cursor that binds on the server and prepares what it runs."""
    if driver.prepare_threshold is None:
        # With no threshold psycopg prepares nothing, even on request (Django
        # sets none); one that no count reaches prepares only what asks.
        driver.prepare_threshold = sys.maxsize
    return _cursor_builder()(connection, driver)


@functools.cache
def _cursor_builder() -> Callable[[BaseDatabaseWrapper, Any], Any]:
    """How to build a preparing cursor; made once, as psycopg is there only on PostgreSQL."""
    from django.db.backends.postgresql.base import TIMESTAMPTZ_OID  # type: ignore[attr-defined]
    from django.db.backends.postgresql.psycopg_any import (  # type: ignore[import-untyped]
        register_tzloader,
    )
    from psycopg import Cursor
    from psycopg.pq import Format

    class PreparingCursor(Cursor[Any]):
        def execute(self, query: Any, params: Any = None, **options: Any) -> Any:
            return super().execute(query, params, **{**options, "prepare": True})

        def _send_query_prepared(self, name: bytes, pgq: Any, **options: Any) -> None:
            # psycopg keeps no query for a prepared run, and Django logs
            # the one it finds here (`last_executed_query`).
            self._query = pgq
            super()._send_query_prepared(name, pgq, **options)

    def build(connection: BaseDatabaseWrapper, driver: Any) -> Any:
        # As Django builds its own (`DatabaseWrapper.create_cursor`): the
        # time zone registered only where the connection's differs.
        cursor = PreparingCursor(driver)
        timezone = connection.timezone
        if timezone != driver.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT).timezone:
            register_tzloader(timezone, cursor)
        return cursor

    return build
