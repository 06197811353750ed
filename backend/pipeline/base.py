"""The pipeline: runs a provider's steps over state kept between requests.

Compared with Sentry's pipeline, whose names and meaning it keeps:

* State lives in a `FlowStore` under a random flow id; the session holds
  only an owner key (`ownership.py`), so one session runs any number of
  flows at once.
* A request does its work in memory and writes once at the end, as a
  compare-and-set on the flow's version: of two concurrent submits of one
  step exactly one moves the flow, the other is answered 409.
* Finishing claims the flow and runs `finish_pipeline` in one transaction,
  so `finish_pipeline` takes effect exactly once per flow.
* Views answer `Form`s and `Redirect`s, which become JSON step
  descriptors (`descriptors.py`) rather than rendered HTML.
"""

from __future__ import annotations

import copy
import hmac
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, ClassVar

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from . import ownership
from .conf import conf
from .errors import (
    BackNotAllowed,
    PipelineNotFound,
    PipelineOutdated,
    StateTooLarge,
    TooManyFlows,
    error_item,
    refuse_gone,
)
from .nested import NestedPipelineView
from .outcomes import Complete, Failure, Form, Outcome, StepResponse, as_outcome
from .provider import PipelineProvider, ProviderLookup, serves
from .requests import display_request
from .state import ACTIVE, COMPLETE, FAILED, FlowState, Frame
from .steps import PipelineView, Step, signature_of
from .store import get_store

#: Writes one request may lose before the flow is described as read, unwritten:
#: each loss means another request moved the flow, so this bounds a storm.
MAX_CONFLICTS = 3


class Pipeline:
    """Base class of a pipeline type; subclass it and implement `finish_pipeline`."""

    #: The pipeline type's name, as clients and the session know it.
    pipeline_name: ClassVar[str] = ""
    #: A human title for catalogs.
    title: ClassVar[StrOrPromise] = ""
    provider_manager: ClassVar[ProviderLookup]
    #: A model looked up by pk for `provider_model`, when the flow has one.
    provider_model_cls: ClassVar[type[models.Model] | None] = None
    #: Whether only a logged-in user may start this pipeline through the API.
    login_required: ClassVar[bool] = False

    def __init__(
        self,
        request: Request,
        provider_key: str,
        *,
        config: dict[str, Any] | None = None,
        provider_model: models.Model | None = None,
        state: FlowState | None = None,
    ) -> None:
        self.request = request
        self.provider_key = provider_key
        self.provider: PipelineProvider = self.provider_manager.get(provider_key)
        if config is None and state is not None:
            config = state.frame.config
        self.config: dict[str, Any] = dict(config or {})
        self.provider.set_config(self.config)
        self.provider.set_pipeline(self)
        self._declared: tuple[Step, ...] = tuple(self.provider.get_pipeline_views())
        self.signature = signature_of(self._declared)
        #: The flow token, set by `initialize()` only: it is never stored.
        self.token: str | None = None

        self._provider_model = provider_model
        self._provider_model_known = provider_model is not None
        self._state = state
        self._state_known = state is not None
        self._parent: Pipeline | None = None
        self._bind_key = ""
        self._steps_cache: tuple[int, tuple[PipelineView, ...]] | None = None
        # Bookkeeping of the outermost pipeline for the request being served.
        self._running = False
        self._finishing = False  # inside `finish_pipeline`
        self._showing = False  # to a client that asked to move nothing
        self._conflicts = 0  # writes this request lost, the flow read afresh each time
        self._dirty = False
        self._revision = 0
        self._dispatch_request: Request | None = None

    # -- construction ---------------------------------------------------------

    @classmethod
    def get_for_request(cls, request: Request) -> Pipeline | None:
        """The flow of this type the request most recently started, if any."""
        state = ownership.latest_flow(request, cls.pipeline_name)
        if state is None or not serves(cls.provider_manager, state.provider):
            return None
        return cls(request, state.provider, state=state)

    def set_parent_pipeline(self, parent: Pipeline, bind_key: str) -> None:
        """Run as a nested pipeline of `parent`, bound under `bind_key`."""
        self._parent = parent
        self._bind_key = bind_key

    # -- the interface of Sentry's pipeline -----------------------------------

    def is_valid(self) -> bool:
        """Whether there is a flow this request can continue from here."""
        frame = self._frame_or_none()
        if frame is None or (frame.pipeline, frame.provider) != (
            self.pipeline_name,
            self.provider_key,
        ):
            return False
        if self._parent is None:
            state = self._state
            assert state is not None
            if (
                state.status != ACTIVE
                or state.is_expired(timezone.now())
                or not ownership.owns(self.request, state)
            ):
                return False
        return not self.is_outdated()

    def is_outdated(self) -> bool:
        """Whether the flow no longer fits this code: steps changed, model gone."""
        return self.outdated_detail() is not None

    def outdated_detail(self) -> StrOrPromise | None:
        """How the flow no longer fits this code, in the client's words; None if it fits."""
        frame = self._frame()
        if frame.signature != self.signature:
            return PipelineOutdated.default_detail
        if frame.provider_model_id and self.provider_model is None:
            return PipelineOutdated.provider_model_gone
        return None

    def initialize(
        self,
        *,
        initial_state: dict[str, Any] | None = None,
        return_to: str = "",
        replace: bool = True,
    ) -> None:
        """Start from the first step with fresh state.

        At the top this creates a new flow and sets `self.token`; nested, it
        resets the child's state inside the parent's. The request that
        started the flow is not input to its first step, which is then only
        shown.

        As Sentry's initialize view clears the pipeline state of a user who
        comes back to start over, the flow `get_for_request` would have
        found, if unfinished, is cancelled first (`replace`): it is never
        found again, nor counted against the owner's unfinished flows. The
        REST API passes `replace=False`: its clients address flows by id,
        and two tabs may run two flows of one type.
        """
        if replace and self._parent is None:
            self._cancel_latest()
        model = self._provider_model
        frame = Frame(
            pipeline=self.pipeline_name,
            provider=self.provider_key,
            signature=self.signature,
            config=self.config,
            data=dict(initial_state or {}),
            provider_model_id=str(model.pk) if model is not None else "",
            bind_key=self._bind_key,
        )
        self._steps_cache = None
        root = self._root
        root._dispatch_request = display_request(root.request)
        if self._parent is not None:
            self._parent._frame().child = frame
            root._changed()
            return
        now = timezone.now()
        user_id = ownership.owner_user_id(self.request)
        session_hash = ownership.session_hash(self.request, create=True)
        token, token_hash = ownership.new_token()
        state = FlowState(
            id=uuid.uuid4().hex,
            frame=frame,
            created_at=now,
            updated_at=now,
            expires_at=now + timedelta(seconds=conf.TTL),
            user_id=user_id,
            token_hash=token_hash,
            session_hash=session_hash,
            return_to=return_to,
        )
        store = get_store()
        if user_id is None and not session_hash:
            store.create(state)  # held by its token alone: no owner to limit
        elif not store.create_within(state, conf.MAX_ACTIVE_FLOWS):
            raise TooManyFlows()
        self.token = token
        self._state, self._state_known = state, True

    def _cancel_latest(self) -> None:
        """Cancel the request's latest flow of this type, if it is unfinished."""
        state = ownership.latest_flow(self.request, self.pipeline_name)
        if state is not None and state.status == ACTIVE:
            state.cancel()
            get_store().compare_and_set(state, state.version)  # lost a race: it moved, keep it

    def current_step(self) -> Response:
        """Run the step the flow is at, and answer what it gives."""
        return self._root._serve(self._dispatch)

    def show(self) -> Response:
        """The current step, for a client that asked to move nothing (a GET).

        Showing a step may still write (a step that sends the browser away
        issues a fresh state); should that write lose to another request's,
        the flow is shown as it now stands rather than refused as stale.
        """
        return self._root._shown()

    def _shown(self) -> Response:
        kept, self._showing = self._showing, True
        try:
            return self.current_step()
        finally:
            self._showing = kept

    def next_step(self, request: Request | None = None) -> Response:
        """Move on and show the next step (or finish).

        Given `request`, the next step is run with it as its input instead
        of being shown: a login step hands a browser coming back from the
        provider to the step that takes the callback, as in Sentry.
        """
        root = self._root
        self._move(+1)
        root._dispatch_request = request if request is not None else display_request(root.request)
        return self.current_step()

    def previous_step(self, *, error: Any = None, code: str = "step_failed") -> Response:
        """Go back one step and show it, with `error` beside it to try again.

        The error is kept with the flow until it moves, so a client that
        comes back to the flow later (after a redirect) still sees it.
        """
        root = self._root
        self._move(-1)
        if error is not None:
            root._require_state().errors = [error_item(code, error)]
        root._dispatch_request = display_request(root.request)
        return self.current_step()

    def bind_state(self, key: str, value: Any) -> None:
        """Keep `value` (JSON) under `key` until the flow ends."""
        self._frame().data[key] = value
        self._root._changed()

    def fetch_state(self, key: str | None = None) -> Any:
        """The value bound under `key`, or all of this pipeline's state."""
        frame = self._frame_or_none()
        data = frame.data if frame is not None else {}
        return data if key is None else data.get(key)

    def error(self, message: Any, code: str = "pipeline_error") -> Response:
        """End the flow as failed, saying why; what its steps bound goes, as at a finish.

        Where it stood (`step.path`) is kept, worked out while the state it
        is worked out from is still there.
        """
        from .descriptors import path_of

        root = self._root
        state = root._require_state()
        state.final_path = path_of(root.chain())
        state.status = FAILED
        state.errors = [error_item(code, message)]
        state.drop_bound()
        root._changed()
        return root._serve(Failure)

    def finish_pipeline(self) -> Any:
        """Do what the flow was for; return its result (JSON) or `self.error(...)`.

        The flow then keeps the result and drops its bound state, as Sentry's
        pipeline does: store whatever must outlive the flow here.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement finish_pipeline")

    def clear_session(self) -> None:
        """Drop this pipeline's state: the flow (or nested run) is gone.

        Called by `finish_pipeline`, as Sentry's pipelines end, it has
        nothing to do: a finished flow keeps its result and drops its bound
        state itself.
        """
        if self._parent is not None:
            self._parent._frame().child = None
            self._root._changed()
            return
        if self._finishing:
            return
        state = self._state
        if state is not None:
            get_store().delete(state.id)
        self._state, self._dirty = None, False

    @property
    def provider_model(self) -> models.Model | None:
        """The flow's provider model row; None if it has none, or it was deleted."""
        if not self._provider_model_known:
            self._provider_model = self._load_provider_model()
            self._provider_model_known = True
        return self._provider_model

    # -- beyond Sentry's pipeline ---------------------------------------------

    def expect_callback(self) -> str:
        """A fresh random state for a browser redirect; the flow now waits for it.

        `GET /api/pipelines/callback/?state=...` finds the flow by it, once:
        a state is single-use, and only the latest one issued is taken.
        """
        root = self._root
        state = root._require_state()
        key, key_hash = ownership.new_token()
        get_store().register_callback(state, key_hash, timezone.now())
        state.callback_hash = key_hash
        root._changed()
        return key

    def awaits_callback(self, key: str) -> bool:
        """Whether `key` is the callback state the flow waits for: unspent, or in flight.

        A callback spends its state before its step runs (exchanging a code
        takes a while). Until that step writes the flow, the flow still
        names the state: a step asking here meanwhile (the flow shown in
        another tab) waits for it rather than issue a fresh one, whose
        write would make the callback's lose. Should the callback's step
        never write (it failed, the database gone, say), the spent state
        is given up after `PIPELINE_CALLBACK_TIMEOUT` seconds, and a fresh
        one issued.
        """
        state = self._root._require_state()
        key_hash = ownership.hash_token(key)
        if not (state.callback_hash and hmac.compare_digest(key_hash, state.callback_hash)):
            return False
        record = get_store().find_callback(key_hash)
        if record is None:
            return False
        if record.used_at is None:
            return True
        return timezone.now() - record.used_at < timedelta(seconds=conf.CALLBACK_TIMEOUT)

    def callback_received(self) -> None:
        """The awaited callback came: the flow waits for none any more."""
        root = self._root
        root._require_state().callback_hash = ""
        root._changed()

    @property
    def flow(self) -> FlowState | None:
        """The stored flow this pipeline (or its outermost parent) runs."""
        return self._root._lookup_state()

    def back(self) -> Response:
        """Return to the previous step, its bound values kept for prefill."""
        return self._root._serve(self._go_back)

    def can_go_back(self, chain: Sequence[Pipeline] | None = None) -> bool:
        chain = chain or self.chain()
        view = chain[-1].current_view()
        if view is None or not view.allow_back:
            return False
        return any(level.step_index > 0 for level in chain)

    @property
    def step_index(self) -> int:
        return self._frame().step_index

    def steps(self) -> tuple[PipelineView, ...]:
        """The steps as they stand now: late-bound ones built, skipped ones gone."""
        root = self._root
        cached = self._steps_cache
        if cached is not None and cached[0] == root._revision:
            return cached[1]
        views = tuple(view for step in self._declared for view in step.expand(self))
        self._steps_cache = (root._revision, views)
        return views

    def current_view(self) -> PipelineView | None:
        views = self.steps()
        index = self._frame().step_index
        return views[index] if index < len(views) else None

    def chain(self) -> list[Pipeline]:
        """The running pipelines from this one down to the innermost."""
        chain: list[Pipeline] = [self]
        while True:
            level = chain[-1]
            child = level._frame().child
            view = level.current_view()
            if child is None or not isinstance(view, NestedPipelineView):
                return chain
            chain.append(view.nested_pipeline(self._root._request_now(), level))

    # -- machinery ----------------------------------------------------------------

    @property
    def _root(self) -> Pipeline:
        pipeline = self
        while pipeline._parent is not None:
            pipeline = pipeline._parent
        return pipeline

    def _lookup_state(self) -> FlowState | None:
        if not self._state_known:
            self._state = ownership.latest_flow(self.request, self.pipeline_name)
            self._state_known = True
        return self._state

    def _require_state(self) -> FlowState:
        state = self._lookup_state()
        if state is None:
            raise PipelineNotInitialized(f"{type(self).__name__} has no flow: initialize() it")
        return state

    def _frame_or_none(self) -> Frame | None:
        if self._parent is None:
            state = self._lookup_state()
            return state.frame if state is not None else None
        parent = self._parent._frame_or_none()
        child = parent.child if parent is not None else None
        return child if child is not None and child.bind_key == self._bind_key else None

    def _frame(self) -> Frame:
        frame = self._frame_or_none()
        if frame is None:
            raise PipelineNotInitialized(f"{type(self).__name__} has no flow: initialize() it")
        return frame

    def _changed(self) -> None:
        self._dirty = True
        self._revision += 1

    def _request_now(self) -> Request:
        return self._dispatch_request or self.request

    def _serve(self, work: Callable[[], Outcome]) -> Response:
        """Do one request's work on the outermost pipeline, write, answer.

        Calls made while a step runs (a view returning `next_step()`, a
        nested pipeline's `current_step()`) only pass their outcome up; the
        outermost call writes the flow once and builds the descriptor.
        """
        if self._running:
            return StepResponse(work())
        self._running = True
        try:
            outcome = work()
            rejected = isinstance(outcome, Form) and bool(outcome.errors)
            if not rejected:
                self._write()
        except _Conflict:
            return self._conflict()
        finally:
            self._running = False
            self._dispatch_request = None
        return self._respond(outcome)

    def _dispatch(self) -> Outcome:
        if self._parent is None:
            state = self._require_state()
            if state.status == COMPLETE:
                return Complete(state.result)
            if state.status != ACTIVE:
                return Failure()
        view = self.current_view()
        if view is None:
            return self._finish()
        return as_outcome(view.dispatch(self._root._request_now(), self))

    def _finish(self) -> Outcome:
        if self._parent is not None:
            return self._hand_to_parent(self._parent)
        return self._finish_flow()

    def _hand_to_parent(self, parent: Pipeline) -> Outcome:
        """A nested pipeline's end: its state goes to the parent, which moves on.

        Its own `finish_pipeline` is deliberately not called, as in Sentry.
        """
        parent.bind_state(self._bind_key, self.fetch_state())
        parent._frame().child = None
        return as_outcome(parent.next_step())

    def _finish_flow(self) -> Outcome:
        """Claim the flow, run `finish_pipeline` once, keep its result.

        The claim, `finish_pipeline`'s own writes and the result commit
        together; on a store that cannot roll back, a finish that fails
        puts the flow back instead.
        """
        state = self._require_state()
        store = get_store()
        before = state.version
        # What to put back should the finish fail where nothing rolls back.
        bound = None if store.rolls_back else copy.deepcopy((state.frame.data, state.frame.child))
        claimed = 0
        try:
            with store.atomic():
                state.status = COMPLETE
                self._write(force=True)  # the claim: a second finisher gets a conflict
                claimed = state.version
                self._finishing = True
                try:
                    result = self.finish_pipeline()
                finally:
                    self._finishing = False
                if state.status == FAILED:
                    raise _Rollback
                state.result = result.outcome if isinstance(result, StepResponse) else result
                state.drop_bound()
                state.frame.child = None
                self._write(force=True)
        except _Rollback:
            # finish_pipeline called error(): nothing it wrote is kept, and
            # the flow is written as failed in place of the claim.
            state.version = before if store.rolls_back else claimed
            state.result = None
            self._changed()
            return Failure()
        except Exception:
            if claimed and bound is not None:
                self._release_claim(claimed, bound)
            raise
        return Complete(state.result)

    def _release_claim(self, claimed: int, bound: tuple[dict[str, Any], Frame | None]) -> None:
        """After a failed finish on a store that cannot roll back: the flow before the claim.

        Active again at its last step, its input bound (to prefill the
        form), never half-finished; a nested pipeline there, already ended,
        starts again. A store that kept the flow as it read it puts that
        back instead, as a rollback would (`FlowStore.restore`).
        """
        state = self._require_state()
        state.frame.data, state.frame.child = bound
        state.status, state.result = ACTIVE, None
        self._frame().step_index = max(len(self.steps()) - 1, 0)
        get_store().restore(state, claimed)

    def _go_back(self) -> Outcome:
        """One step back; the flow no longer waits for a browser it sent away.

        A callback with that state is then refused (`state_mismatch`), and
        the step that sends the browser away, shown again, issues a fresh one.
        """
        if not self.can_go_back():
            raise BackNotAllowed()
        self._root._require_state().callback_hash = ""
        for level in reversed(self.chain()):
            level._frame().child = None
            if level.step_index > 0:
                level._move(-1)
                break
        self._dispatch_request = display_request(self.request)
        return self._dispatch()

    def _move(self, steps: int) -> None:
        """Change step at this level; notices about the old step go with it."""
        frame = self._frame()
        frame.step_index = max(frame.step_index + steps, 0)
        root = self._root
        state = root._require_state()
        if state.status == ACTIVE:
            state.errors = []
        root._changed()

    def _write(self, *, force: bool = False) -> None:
        # Forced (a finish's claim and result) it always writes: only a
        # step's own changes are given up when the flow keeps moving.
        if not (force or (self._dirty and self._conflicts < MAX_CONFLICTS)):
            return
        state = self._require_state()
        _check_size(state.frame)
        now = timezone.now()
        state.updated_at = now
        state.expires_at = now + timedelta(seconds=conf.TTL)
        if not get_store().compare_and_set(state, state.version):
            raise _Conflict
        self._dirty = False

    def _respond(self, outcome: Outcome) -> Response:
        from .descriptors import describe

        code = status.HTTP_400_BAD_REQUEST if isinstance(outcome, Form) and outcome.errors else 200
        return Response(describe(self, outcome), status=code)

    def _conflict(self) -> Response:
        """Someone else moved the flow first: answer 409 with where it is now.

        Or 410, if what moved it was a cancel, or it expired meanwhile.
        """
        state = self._require_state()
        fresh = get_store().load(state.id)
        if fresh is None:
            raise PipelineNotFound()
        refuse_gone(fresh)
        current = type(self)(display_request(self.request), fresh.provider, state=fresh)
        # After MAX_CONFLICTS the flow is described as last read, and a step's
        # own write (a fresh state) is not tried again (`_write`).
        current._conflicts = self._conflicts + 1
        if self._showing and current._conflicts < MAX_CONFLICTS:
            return current._shown()
        return current.describe_conflict("stale_version", _("Someone else moved this flow first."))

    def describe_conflict(self, code: str, message: Any) -> Response:
        """The current descriptor, answered 409 with a conflict error."""
        response = self.current_step()
        if isinstance(response.data, dict):
            response.data["errors"] = [*response.data.get("errors", []), error_item(code, message)]
        response.status_code = status.HTTP_409_CONFLICT
        return response

    def _load_provider_model(self) -> models.Model | None:
        frame = self._frame_or_none()
        model_cls = self.provider_model_cls
        if model_cls is None or frame is None or not frame.provider_model_id:
            return None
        try:
            return model_cls._default_manager.get(pk=frame.provider_model_id)
        except (ObjectDoesNotExist, ValueError, ValidationError):
            return None


def _check_size(frame: Frame) -> None:
    """Refuse to keep more state than `PIPELINE_MAX_STATE_SIZE` allows."""
    kept = [frame.data, frame.child.to_json() if frame.child else None]
    if len(json.dumps(kept, cls=DjangoJSONEncoder)) > conf.MAX_STATE_SIZE:
        raise StateTooLarge()


class PipelineNotInitialized(RuntimeError):
    """A pipeline was used before `initialize()` or after `clear_session()`."""


class _Conflict(Exception):
    """The compare-and-set lost: the flow moved since it was read."""


class _Rollback(Exception):
    """Leave the finishing transaction without keeping its writes."""
