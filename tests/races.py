"""Another transaction's row, landing between a lookup that missed and the insert after it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection
from django.db.models import Model


@contextmanager
def row_lands_after_lookup(model: type[Model], **fields: Any) -> Iterator[None]:
    """Create `model(**fields)` right after the first read of its table.

    A unique row created by two requests at once is the race this stands
    for: each looks, finds nothing, and inserts. Here the competing insert
    is made in the same connection, so it is deterministic and needs no
    second database connection, and it is outside any savepoint the code
    under test opens later, as another transaction's committed row would be.
    """
    table = connection.ops.quote_name(model._meta.db_table)
    landed = False

    def wrapper(execute: Callable[..., Any], sql: str, params: Any, many: bool, ctx: Any) -> Any:
        nonlocal landed
        result = execute(sql, params, many, ctx)
        if not landed and sql.lstrip().upper().startswith("SELECT") and f"FROM {table}" in sql:
            landed = True
            model._default_manager.create(**fields)
        return result

    with connection.execute_wrapper(wrapper):
        yield
    assert landed, f"nothing read {table}"
