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
import re
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.core.signals import setting_changed
from django.db import transaction
from django.dispatch import receiver
from django.utils.module_loading import import_string

from .conf import conf
from .state import ACTIVE, FlowState, Frame

if TYPE_CHECKING:
    from .models import Callback, Flow


@dataclasses.dataclass(frozen=True)
class CallbackRecord:
    """A callback state a flow issued, and whether it was used."""

    flow_id: str
    used: bool


class FlowStore(abc.ABC):
    #: Whether the store's own writes roll back with `atomic()` (a database's
    #: do); the engine makes up for a failed finish on stores where they don't.
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
    def count_active(self, *, user_id: int | None, session_hash: str, now: datetime) -> int:
        """Unfinished, unexpired flows of that user (or, with no user, that session)."""

    @abc.abstractmethod
    def compare_and_set(self, state: FlowState, expected_version: int) -> bool:
        """Write `state` if the stored version is still `expected_version`.

        On success the stored version becomes `expected_version + 1`, and
        `state.version` is updated to match.
        """

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
        """Mark the state used; True only for the one caller that did it."""

    @abc.abstractmethod
    def purge_expired(self, now: datetime) -> int:
        """Delete flows expired at `now`; return how many."""

    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        """A scope whose writes all commit or all roll back."""
        yield


class DatabaseStore(FlowStore):
    """Flows in the `Flow` table of the default database.

    The model is imported where it is used, so that `backend.pipeline` can
    be imported (for its public names) before Django's apps are ready.
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

    def create(self, state: FlowState) -> None:
        self.model.objects.create(id=uuid.UUID(state.id), **_columns(state))

    def load(self, flow_id: str) -> FlowState | None:
        # Only the form ids are given in: one flow, one URL.
        if not isinstance(flow_id, str) or not _FLOW_ID.fullmatch(flow_id):
            return None
        key = uuid.UUID(hex=flow_id)
        try:
            return _state(self.model.objects.get(pk=key))
        except self.model.DoesNotExist:
            return None

    def load_by_token(self, token_hash: str) -> FlowState | None:
        if not token_hash:
            return None
        row = self.model.objects.filter(token_hash=token_hash).order_by().first()
        return _state(row) if row else None

    def latest(self, pipeline: str, session_hash: str) -> FlowState | None:
        rows = self.model.objects.filter(session_hash=session_hash, pipeline=pipeline)
        row = rows.order_by("-created_at").first()
        return _state(row) if row else None

    def count_active(self, *, user_id: int | None, session_hash: str, now: datetime) -> int:
        flows = self.model.objects.filter(status=ACTIVE, expires_at__gt=now)
        if user_id is not None:
            return flows.filter(user_id=user_id).count()
        return flows.filter(user__isnull=True, session_hash=session_hash).count()

    def compare_and_set(self, state: FlowState, expected_version: int) -> bool:
        columns = _changing_columns(state)
        columns["version"] = expected_version + 1
        written = self.model.objects.filter(
            pk=uuid.UUID(state.id), version=expected_version
        ).update(**columns)
        if written:
            state.version = expected_version + 1
        return written == 1

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
        return CallbackRecord(flow_id=row.flow_id.hex, used=row.used_at is not None)

    def use_callback(self, key_hash: str, now: datetime) -> bool:
        unused = self.callbacks.objects.filter(key_hash=key_hash, used_at__isnull=True)
        return unused.update(used_at=now) == 1

    def purge_expired(self, now: datetime) -> int:
        deleted, _ = self.model.objects.filter(expires_at__lte=now).delete()
        return deleted

    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        with transaction.atomic():
            yield


_FLOW_ID = re.compile(r"[0-9a-f]{32}")


def _columns(state: FlowState) -> dict[str, Any]:
    """Every column, for a new flow."""
    return {
        "pipeline": state.frame.pipeline,
        "provider": state.frame.provider,
        "user_id": state.user_id,
        "token_hash": state.token_hash,
        "session_hash": state.session_hash,
        "return_to": state.return_to,
        "created_at": state.created_at,
        "version": state.version,
        **_changing_columns(state),
    }


def _changing_columns(state: FlowState) -> dict[str, Any]:
    """The columns a step may change, written by compare-and-set."""
    frame = state.frame
    return {
        "step_index": frame.step_index,
        "signature": frame.signature,
        "config": frame.config,
        "data": frame.data,
        "child": frame.child.to_json() if frame.child else None,
        "provider_model_id": frame.provider_model_id,
        "status": state.status,
        "result": state.result,
        "errors": state.errors,
        "callback_hash": state.callback_hash,
        "updated_at": state.updated_at,
        "expires_at": state.expires_at,
    }


def _state(row: Flow) -> FlowState:
    frame = Frame(
        pipeline=row.pipeline,
        provider=row.provider,
        step_index=row.step_index,
        signature=row.signature,
        config=row.config,
        data=row.data,
        provider_model_id=row.provider_model_id,
        child=Frame.from_json(row.child) if row.child else None,
    )
    return FlowState(
        id=row.id.hex,
        frame=frame,
        version=row.version,
        status=row.status,
        result=row.result,
        errors=row.errors,
        user_id=row.user_id,
        token_hash=row.token_hash,
        session_hash=row.session_hash,
        return_to=row.return_to,
        callback_hash=row.callback_hash,
        created_at=row.created_at,
        updated_at=row.updated_at,
        expires_at=row.expires_at,
    )


@functools.cache
def get_store() -> FlowStore:
    """The store named by `PIPELINE_STORE`, built once per process."""
    store_cls: type[FlowStore] = import_string(conf.STORE)
    return store_cls()


@receiver(setting_changed)
def _reset_store(*, setting: str, **kwargs: Any) -> None:
    if setting == "PIPELINE_STORE":
        get_store.cache_clear()
