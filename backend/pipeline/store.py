"""Where flows are kept: one interface, compare-and-set on a version.

The engine only ever talks to a `FlowStore`. A store must make
`compare_and_set` atomic across processes and machines: of several
writers holding the same version, exactly one succeeds. `atomic()` scopes
the finishing of a flow, so that the claim of the flow and the effects of
`finish_pipeline` commit together or not at all.
"""

from __future__ import annotations

import abc
import contextlib
import dataclasses
import functools
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.core.signals import setting_changed
from django.db import connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.dispatch import receiver
from django.utils.module_loading import import_string

from .conf import conf
from .prepared import cursor_for
from .state import ACTIVE, FlowState, Frame, is_flow_id

if TYPE_CHECKING:
    from django.db.models import Field

    from .models import Callback, Flow


@dataclasses.dataclass(frozen=True)
class CallbackRecord:
    """A callback state a flow issued, and when it was used (None: not yet)."""

    flow_id: str
    used_at: datetime | None = None

    @property
    def used(self) -> bool:
        return self.used_at is not None


class FlowStore(abc.ABC):
    #: Whether the store's own writes roll back with `atomic()` (a database's
    #: do); on stores where they don't, the engine makes up for a failed
    #: finish with `restore`.
    rolls_back: bool = False

    @abc.abstractmethod
    def create(self, state: FlowState) -> None:
        """Store a new flow."""

    @abc.abstractmethod
    def load(self, flow_id: str) -> FlowState | None:
        """The flow with this id, or None (also for ids that are not ids)."""

    @abc.abstractmethod
    def load_by_token(self, token_hash: str) -> FlowState | None:
        """The flow whose flow token hashes to this, or None."""

    @abc.abstractmethod
    def latest(self, pipeline: str, session_hash: str) -> FlowState | None:
        """The most recently started flow of `pipeline` of that session."""

    @abc.abstractmethod
    def rebind_session(self, old_hash: str, new_hash: str) -> None:
        """Move every flow of the session owner key `old_hash` to `new_hash`."""

    @abc.abstractmethod
    def count_active(self, *, user_id: int | None, session_hash: str, now: datetime) -> int:
        """Unfinished, unexpired flows of that user (or, with no user, that session)."""

    def create_within(self, state: FlowState, limit: int) -> bool:
        """Store a new flow unless its owner already has `limit` unfinished ones; whether it did.

        The owner is the flow's user, or with none its session, as for
        `count_active` (at the flow's creation). Counting, then creating,
        takes two trips to the store; a store that can do both in one
        overrides this. Two starts at the same moment may both pass the
        count: the limit bounds what one client piles up, it is no lock.
        """
        active = self.count_active(
            user_id=state.user_id, session_hash=state.session_hash, now=state.created_at
        )
        if active >= limit:
            return False
        self.create(state)
        return True

    @abc.abstractmethod
    def compare_and_set(self, state: FlowState, expected_version: int) -> bool:
        """Write `state` if the stored version is still `expected_version`.

        On success the stored version becomes `expected_version + 1`, and
        `state.version` is updated to match.
        """

    def restore(self, state: FlowState, claimed: int) -> bool:
        """Put the flow back after a failed finish, if it is still at `claimed`; whether it was.

        `state` is the engine's account of the flow before the claim: active
        again at its last step, its input bound (a nested pipeline there,
        already ended, starts again). This default writes it at a new
        version: the same request, sent again, is told the flow moved on
        (409), with its form prefilled. A store that kept the flow as it read
        it (`RedisStore`) writes that back instead, version included, as a
        rollback would, so that the same request succeeds. Only a store whose
        writes do not roll back with `atomic()` is asked.
        """
        return self.compare_and_set(state, claimed)

    @abc.abstractmethod
    def delete(self, flow_id: str) -> None:
        """Forget a flow."""

    @abc.abstractmethod
    def register_callback(self, state: FlowState, key_hash: str, now: datetime) -> None:
        """Record a callback state issued by the flow."""

    @abc.abstractmethod
    def find_callback(self, key_hash: str) -> CallbackRecord | None:
        """The callback state with this hash, or None."""

    @abc.abstractmethod
    def use_callback(self, key_hash: str, now: datetime) -> bool:
        """Mark the state used at `now`; True only for the one caller that did it."""

    @abc.abstractmethod
    def purge_expired(self, now: datetime) -> int:
        """Delete flows expired at `now`; return how many."""

    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        """A scope whose writes all commit or all roll back."""
        yield


class DatabaseStore(FlowStore):
    """Flows in the `Flow` table of the database the router writes flows to.

    A step reads its flow by primary key and writes it back with one
    conditional UPDATE: the hottest statements of the API. They are written
    in SQL once per database (`FlowTable`) rather than compiled by the ORM
    on every request, which costs several times the query itself; values
    are prepared and converted as the model's fields do it, so the rows are
    exactly those the ORM reads and writes (the admin, `clearpipelines`,
    deletions).

    The models are imported where they are used, so that `backend.pipeline`
    can be imported (for its public names) before Django's apps are ready.
    """

    rolls_back = True

    @functools.cached_property
    def model(self) -> type[Flow]:
        from .models import Flow

        return Flow

    @functools.cached_property
    def callbacks(self) -> type[Callback]:
        from .models import Callback

        return Callback

    @property
    def table(self) -> FlowTable:
        return FlowTable.of(self.model)

    def create(self, state: FlowState) -> None:
        self.table.insert(_row(state))

    def load(self, flow_id: str) -> FlowState | None:
        if not is_flow_id(flow_id):
            return None
        return _state_or_none(self.table.select(id=uuid.UUID(hex=flow_id)))

    def load_by_token(self, token_hash: str) -> FlowState | None:
        if not token_hash:
            return None
        return _state_or_none(self.table.select(token_hash=token_hash))

    def latest(self, pipeline: str, session_hash: str) -> FlowState | None:
        row = self.table.select(newest=True, session_hash=session_hash, pipeline=pipeline)
        return _state_or_none(row)

    def rebind_session(self, old_hash: str, new_hash: str) -> None:
        if not old_hash:
            return
        alias = self.table.alias
        # Inside a transaction, a savepoint of its own: a logout that goes on
        # without it (its error caught) may do so inside the request's one.
        # Outside, the one statement is atomic already.
        in_transaction = transaction.get_connection(alias).in_atomic_block
        with transaction.atomic(using=alias) if in_transaction else contextlib.nullcontext():
            self.model.objects.filter(session_hash=old_hash).update(session_hash=new_hash)

    def count_active(self, *, user_id: int | None, session_hash: str, now: datetime) -> int:
        return self.table.count(*self._active(user_id, session_hash, now))

    def create_within(self, state: FlowState, limit: int) -> bool:
        # One statement, which counts and inserts, where the database takes
        # `INSERT ... SELECT` without a table (a round trip less per start).
        table = self.table
        if table.vendor not in _GUARDED_INSERT_VENDORS:
            return super().create_within(state, limit)
        where, params = self._active(state.user_id, state.session_hash, state.created_at)
        return table.insert(_row(state), fewer_than=(limit, where, params))

    def _active(
        self, user_id: int | None, session_hash: str, now: datetime
    ) -> tuple[str, list[Any]]:
        """The condition on an owner's unfinished flows, and its parameters.

        The conditions of the partial indexes `flow_active_*` are spelled
        out, not passed as parameters, so that every planner sees it may use
        them: only unfinished flows are counted, not all of an owner's.
        """
        where = f"status = '{ACTIVE}' AND expires_at > %s AND "
        params: list[Any] = [self.table.prep("expires_at", now)]
        if user_id is not None:
            where += "user_id = %s"
            params.append(user_id)
        else:
            where += "user_id IS NULL AND session_hash = %s"
            params.append(session_hash)
        return where, params

    def compare_and_set(self, state: FlowState, expected_version: int) -> bool:
        columns = _changing_columns(state)
        columns["version"] = expected_version + 1
        written = self.table.update(columns, flow_id=uuid.UUID(state.id), version=expected_version)
        if written:
            state.version = expected_version + 1
        return written

    def delete(self, flow_id: str) -> None:
        self.model.objects.filter(pk=uuid.UUID(flow_id)).delete()

    def register_callback(self, state: FlowState, key_hash: str, now: datetime) -> None:
        self.callbacks.objects.create(
            key_hash=key_hash, flow_id=uuid.UUID(state.id), created_at=now
        )

    def find_callback(self, key_hash: str) -> CallbackRecord | None:
        row = self.callbacks.objects.filter(key_hash=key_hash).first()
        if row is None:
            return None
        return CallbackRecord(flow_id=row.flow_id.hex, used_at=row.used_at)

    def use_callback(self, key_hash: str, now: datetime) -> bool:
        unused = self.callbacks.objects.filter(key_hash=key_hash, used_at__isnull=True)
        return unused.update(used_at=now) == 1

    def purge_expired(self, now: datetime) -> int:
        # In batches, each its own transaction, reading ids alone: a backlog
        # of a million flows neither fills the memory with their states nor
        # holds the table (SQLite's one writer) for long. The callbacks they
        # issued go with them, and are not counted.
        expired = self.model.objects.filter(expires_at__lte=now).only("pk")
        deleted = 0
        while batch := list(expired.values_list("pk", flat=True)[:PURGE_BATCH]):
            with self.atomic():
                _, counts = expired.filter(pk__in=batch).delete()
            deleted += counts.get(self.model._meta.label, 0)
        return deleted

    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        with transaction.atomic(using=self.table.alias):
            yield


#: Expired flows `DatabaseStore.purge_expired` deletes in one transaction.
PURGE_BATCH = 1000

_Converter = Callable[[Any, Any, BaseDatabaseWrapper], Any]
_Preparer = Callable[[Any, BaseDatabaseWrapper], Any]
#: Fields whose values (str, int or None) the store passes to the driver as they are.
_NATIVE_TYPES = {"CharField", "PositiveIntegerField", "ForeignKey"}


def _preparer(field: Field[Any, Any]) -> _Preparer:
    """How the store sends a value of `field`: as the field would, by the backend's adapter.

    The field's own `get_db_prep_save` also takes expressions and lazy
    objects, which the store never gives it; JSON and datetimes go
    straight to the adapters it would end in, the rest through it.
    """
    kind = field.get_internal_type()
    if kind in _NATIVE_TYPES:
        return lambda value, connection: value
    if kind == "JSONField":
        encoder = field.encoder  # type: ignore[attr-defined]
        nullable = field.null

        def json_value(value: Any, connection: BaseDatabaseWrapper) -> Any:
            if value is None and nullable:
                return None  # SQL NULL, as the field stores None
            return connection.ops.adapt_json_value(value, encoder)

        return json_value
    if kind == "DateTimeField":
        return lambda value, connection: connection.ops.adapt_datetimefield_value(value)
    return field.get_db_prep_save


class FlowTable:
    """The flow table's hot statements, in SQL, for the database flows are written to.

    Values are prepared as the model's fields prepare them (`_preparer`)
    and results converted by the converters the ORM applies, so a UUID, a
    datetime or JSON is stored and read exactly as through the ORM, on any
    backend. Callers name columns; values only ever travel as parameters.
    """

    def __init__(self, model: type[Flow], alias: str) -> None:
        self.model = model
        self.alias = alias
        connection = connections[alias]
        self.vendor = connection.vendor
        quote = connection.ops.quote_name
        meta = model._meta
        self.fields: dict[str, Field[Any, Any]] = {
            field.column: field for field in meta.concrete_fields
        }
        self.columns = tuple(self.fields)
        self.preparers = {column: _preparer(field) for column, field in self.fields.items()}
        self.quoted = {column: quote(column) for column in self.columns}
        self.name = quote(meta.db_table)
        self.selected = ", ".join(self.quoted.values())
        # The converters are the backend's (its operations' and the fields'):
        # they depend on the backend, not on the connection they were read
        # from, and are given the connection of the thread at hand.
        self.converters: list[tuple[int, list[_Converter]]] = []
        for position, field in enumerate(self.fields.values()):
            col = field.get_col(meta.db_table)
            found = [
                *connection.ops.get_db_converters(col),
                *field.get_db_converters(connection),  # type: ignore[attr-defined]  # not in the stubs
            ]
            if found:
                self.converters.append((position, found))

    @classmethod
    def of(cls, model: type[Flow]) -> FlowTable:
        """The table of `model` on the database the router writes it to, built once."""
        alias = router.db_for_write(model)
        table = _TABLES.get(alias)
        if table is None or table.model is not model:
            table = _TABLES[alias] = cls(model, alias)
        return table

    def prep(self, column: str, value: Any, connection: BaseDatabaseWrapper | None = None) -> Any:
        """`value` as the column's field sends it to the database."""
        return self.preparers[column](value, connection or connections[self.alias])

    def _params(self, values: dict[str, Any], connection: BaseDatabaseWrapper) -> list[Any]:
        return [self.prep(column, value, connection) for column, value in values.items()]

    def select(self, *, newest: bool = False, **equal: Any) -> dict[str, Any] | None:
        """The row whose columns equal `equal` (the newest one), by column name."""
        where = " AND ".join(f"{self.quoted[column]} = %s" for column in equal)
        order = f" ORDER BY {self.quoted['created_at']} DESC" if newest else ""
        sql = f"SELECT {self.selected} FROM {self.name} WHERE {where}{order} LIMIT 1"
        connection = connections[self.alias]
        with cursor_for(connection, sql) as cursor:
            cursor.execute(sql, self._params(equal, connection))
            row = cursor.fetchone()
        if row is None:
            return None
        values = list(row)
        for position, converters in self.converters:
            for convert in converters:
                values[position] = convert(values[position], None, connection)
        return dict(zip(self.columns, values, strict=True))

    def count(self, where: str, params: Sequence[Any]) -> int:
        """How many rows match `where`, whose parameters are already prepared."""
        sql = f"SELECT COUNT(*) FROM {self.name} WHERE {where}"
        with cursor_for(connections[self.alias], sql) as cursor:
            cursor.execute(sql, params)
            (found,) = cursor.fetchone()
        return int(found)

    def insert(
        self, values: dict[str, Any], *, fewer_than: tuple[int, str, Sequence[Any]] | None = None
    ) -> bool:
        """Insert a row; whether it was inserted.

        With `fewer_than` (a limit, a condition and its prepared
        parameters), only while fewer than `limit` rows meet the condition.
        """
        columns = ", ".join(self.quoted[column] for column in values)
        marks = ", ".join(["%s"] * len(values))
        connection = connections[self.alias]
        params = self._params(values, connection)
        if fewer_than is None:
            sql = f"INSERT INTO {self.name} ({columns}) VALUES ({marks})"
        else:
            limit, where, where_params = fewer_than
            sql = (
                f"INSERT INTO {self.name} ({columns}) SELECT {marks} "
                f"WHERE (SELECT COUNT(*) FROM {self.name} WHERE {where}) < %s"
            )
            params += [*where_params, limit]
        with cursor_for(connection, sql) as cursor:
            cursor.execute(sql, params)
            return bool(cursor.rowcount == 1)

    def update(self, values: dict[str, Any], *, flow_id: uuid.UUID, version: int) -> bool:
        """Write `values` to the flow if it is still at `version`; whether it was."""
        assignments = ", ".join(f"{self.quoted[column]} = %s" for column in values)
        sql = (
            f"UPDATE {self.name} SET {assignments} "
            f"WHERE {self.quoted['id']} = %s AND {self.quoted['version']} = %s"
        )
        connection = connections[self.alias]
        params = [*self._params(values, connection), self.prep("id", flow_id, connection), version]
        with cursor_for(connection, sql) as cursor:
            cursor.execute(sql, params)
            return bool(cursor.rowcount == 1)


_TABLES: dict[str, FlowTable] = {}

#: Databases known to take `INSERT INTO t (...) SELECT %s, ... WHERE (...)`:
#: a SELECT without FROM, whose untyped values take the columns' types.
_GUARDED_INSERT_VENDORS = frozenset({"postgresql", "sqlite"})


def _row(state: FlowState) -> dict[str, Any]:
    """Every column, for a new flow."""
    return {
        "id": uuid.UUID(state.id),
        "pipeline": state.frame.pipeline,
        "provider": state.frame.provider,
        "user_id": state.user_id,
        "token_hash": state.token_hash,
        "session_hash": state.session_hash,
        "return_to": state.return_to,
        "created_at": state.created_at,
        "version": state.version,
        # What the outermost pipeline was started with: never changed after.
        "signature": state.frame.signature,
        "config": state.frame.config,
        "provider_model_id": state.frame.provider_model_id,
        **_changing_columns(state),
    }


def _changing_columns(state: FlowState) -> dict[str, Any]:
    """The columns a step may change, written by compare-and-set."""
    frame = state.frame
    return {
        "step_index": frame.step_index,
        "data": frame.data,
        "child": frame.child.to_json() if frame.child else None,
        "status": state.status,
        "result": state.result,
        "errors": state.errors,
        "final_path": state.final_path,
        "callback_hash": state.callback_hash,
        "updated_at": state.updated_at,
        "expires_at": state.expires_at,
    }


def _state_or_none(row: dict[str, Any] | None) -> FlowState | None:
    if row is None:
        return None
    frame = Frame(
        pipeline=row["pipeline"],
        provider=row["provider"],
        step_index=row["step_index"],
        signature=row["signature"],
        config=row["config"],
        data=row["data"],
        provider_model_id=row["provider_model_id"],
        child=Frame.from_json(row["child"]) if row["child"] else None,
    )
    return FlowState(
        id=row["id"].hex,
        frame=frame,
        version=row["version"],
        status=row["status"],
        result=row["result"],
        errors=row["errors"],
        final_path=row["final_path"],
        user_id=row["user_id"],
        token_hash=row["token_hash"],
        session_hash=row["session_hash"],
        return_to=row["return_to"],
        callback_hash=row["callback_hash"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        expires_at=row["expires_at"],
    )


@functools.cache
def get_store() -> FlowStore:
    """The store named by `PIPELINE_STORE`, built once per process."""
    store_cls: type[FlowStore] = import_string(conf.STORE)
    return store_cls()


@receiver(setting_changed)
def _reset_store(*, setting: str, **kwargs: Any) -> None:
    """A store is built from its settings: a test that changes one gets a store that reads it."""
    if setting in ("PIPELINE_STORE", "REDIS_URL") or setting.startswith("PIPELINE_REDIS_"):
        get_store.cache_clear()
