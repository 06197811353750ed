"""The REST API of the protocol (`backend/pipeline/README.md`) over the engine."""

from __future__ import annotations

import contextlib
import functools
from typing import Any
from urllib.parse import unquote_plus, urlencode, urlsplit, urlunsplit

from django.http import HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.utils import timezone
from django.utils.encoding import iri_to_uri
from django.utils.translation import gettext_lazy as _
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle

from .. import ownership
from ..base import Pipeline
from ..conf import conf
from ..descriptors import api_root
from ..errors import (
    CallbackStateMismatch,
    CallbackStateMissing,
    CallbackStateReused,
    CallbackStateUnknown,
    CallbackWrongSession,
    InvalidRequest,
    InvalidReturnTo,
    PipelineError,
    PipelineNotFound,
    PipelineOutdated,
    UnknownPipeline,
    UnknownProvider,
    flatten_errors,
    refuse_gone,
)
from ..provider import listed, serves
from ..redirects import is_allowed_target
from ..registry import all_pipelines, get_pipeline_class
from ..requests import display_request, query_request, submission_request
from ..state import ACTIVE, MAX_RETURN_TO_LENGTH, FlowState
from ..steps import INITIAL_DATA_KEY, as_json, non_finite_errors
from ..store import CallbackRecord, get_store
from . import serializers as api
from .methods import HTTP_METHODS
from .protection import GuardedViewMixin, enforce_csrf_on_flow
from .throttling import StartRateThrottle

_ERROR = api.ErrorEnvelopeSerializer
_DESCRIPTOR_OR_ERROR = PolymorphicProxySerializer(
    component_name="DescriptorOrError",
    serializers=[api.DESCRIPTOR, api.ErrorEnvelopeSerializer],
    resource_type_field_name=None,
)
_FLOW_TOKEN = OpenApiParameter(
    "X-Pipeline-Token",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="The flow token from the start answer; binds anonymous script clients.",
)
_COMMON: dict[int | str, Any] = {
    401: OpenApiResponse(
        _ERROR, description="A bad `Authorization: Token` (`authentication_failed`)."
    ),
    403: OpenApiResponse(_ERROR, description="CSRF check failed (`csrf_failed`)."),
    404: OpenApiResponse(_ERROR, description="Unknown flow, or not bound to this client."),
    413: OpenApiResponse(_ERROR, description="Body too large (`payload_too_large`)."),
    503: OpenApiResponse(
        _ERROR,
        description="The database or Redis is down or locked (`database_unavailable`).",
    ),
}
#: For operations that read (a GET): no CSRF check, no body.
_READ = {code: _COMMON[code] for code in (401, 404, 503)}
#: For operations that take a body.
_BODY: dict[int | str, Any] = {
    415: OpenApiResponse(_ERROR, description="The body is not JSON (`unsupported_media_type`).")
}
#: For operations that run a step, which may bind more than a flow may keep.
_STEP_TOO_LARGE = OpenApiResponse(
    _ERROR,
    description="Body too large (`payload_too_large`), or the step would keep more "
    "than a flow may (`state_too_large`, nothing kept).",
)
_GONE = OpenApiResponse(
    _ERROR,
    description="Expired, cancelled, or its steps changed (`pipeline_expired`, "
    "`pipeline_cancelled`, `pipeline_outdated`); `restart` says what to start.",
)
_CONFLICT = OpenApiResponse(
    api.DESCRIPTOR,
    description="Stale version or finished flow: the current descriptor, with an "
    "error `stale_version` or `pipeline_finished`.",
)


class _Schema(AutoSchema):
    def _is_list_view(self, serializer: Any = None) -> bool:
        # The catalog is one object, not a list: no action here lists items.
        return False


class PipelineViewSet(GuardedViewMixin, viewsets.ViewSet):
    """Start, show, advance, go back in and cancel flows."""

    lookup_value_regex = "[^/]+"
    schema = _Schema()
    http_method_names = HTTP_METHODS
    #: Its detail routes are flows, and `_load` checks a flow token against
    #: the flow before it lifts the CSRF check (`protection.enforce_csrf`).
    flow_token_views = True

    def perform_authentication(self, request: Request) -> None:
        """Authenticate when first asked who the client is, not before.

        An anonymous step of a flow its session cookie still opens needs
        no user (`ownership`), so it never reads the session. A request
        with an `Authorization` header is authenticated at once, so that a
        bad token is refused whatever the request would have needed.
        """
        if "HTTP_AUTHORIZATION" in request._request.META:
            super().perform_authentication(request)

    @property
    def allowed_methods(self) -> list[str]:
        """What `Allow` names: DRF answers HEAD wherever GET is, but the callback refuses it."""
        methods: list[str] = super().allowed_methods
        if getattr(self, "action_map", {}).get("get") == "callback":
            return [method for method in methods if method != "HEAD"]
        return methods

    def get_throttles(self) -> list[BaseThrottle]:
        return [StartRateThrottle()] if self.action == "create" else []

    @extend_schema(
        responses={200: api.CatalogSerializer, 401: _COMMON[401], 503: _COMMON[503]},
        summary="Catalog of pipelines",
        operation_id="pipelines_catalog",
    )
    def list(self, request: Request) -> Response:
        return Response({"pipelines": [_catalog_entry(cls) for cls in all_pipelines()]})

    @extend_schema(
        request=api.StartSerializer,
        responses={
            201: api.STARTED_DESCRIPTOR,
            400: OpenApiResponse(_ERROR, description="Malformed, or `invalid_return_to`."),
            **_COMMON,
            **_BODY,
            401: OpenApiResponse(
                _ERROR,
                description="The pipeline needs a logged-in user (`not_authenticated`), "
                "or a bad `Authorization: Token` (`authentication_failed`).",
            ),
            429: OpenApiResponse(
                _ERROR,
                description="Started too often (`throttled`, with `Retry-After`), or too many "
                "unfinished flows (`too_many_flows`).",
            ),
        },
        summary="Start a flow",
    )
    def create(self, request: Request) -> Response:
        body = _validated(api.StartSerializer, request.data)
        pipeline_cls = get_pipeline_class(body["pipeline"])
        if pipeline_cls.login_required and not request.user.is_authenticated:
            raise exceptions.NotAuthenticated()
        if not serves(pipeline_cls.provider_manager, body["provider"]):
            raise UnknownProvider()
        return_to = _checked_return_to(request, body["return_to"])
        pipeline = pipeline_cls(display_request(request), body["provider"])
        initial = _initial_state(pipeline, body["initial_data"])
        pipeline.initialize(initial_state=initial, return_to=return_to, replace=False)
        try:
            response = pipeline.current_step()
        except Exception:
            # Nobody will hear of this flow: it must not count against the
            # owner's unfinished flows until it expires. The step's error
            # is the answer, whether or not the flow can be deleted.
            if pipeline.flow is not None:
                with contextlib.suppress(Exception):
                    get_store().delete(pipeline.flow.id)
            raise
        response.data["token"] = pipeline.token
        response.status_code = status.HTTP_201_CREATED
        response["Location"] = f"{api_root()}{response.data['id']}/"
        return response

    @extend_schema(
        parameters=[_FLOW_TOKEN],
        responses={
            200: api.DESCRIPTOR,
            409: OpenApiResponse(
                api.DESCRIPTOR,
                description="The flow kept moving while it was shown: the step's own write "
                "(a fresh callback state) lost three times in a row. The descriptor as last "
                "read, with an error `stale_version`; showing it again is safe.",
            ),
            410: _GONE,
            **_READ,
        },
        summary="Show a flow",
    )
    def retrieve(self, request: Request, pk: str) -> Response:
        return _load(request, pk).show()

    @extend_schema(
        request=api.SubmitSerializer,
        responses={
            200: api.DESCRIPTOR,
            400: OpenApiResponse(
                _DESCRIPTOR_OR_ERROR,
                description="Invalid data: the same step with `errors`; or a malformed "
                "request: the error envelope.",
            ),
            409: _CONFLICT,
            410: _GONE,
            **_COMMON,
            **_BODY,
            413: _STEP_TOO_LARGE,
        },
        parameters=[_FLOW_TOKEN],
        summary="Submit the current step",
        operation_id="pipelines_submit",
    )
    def submit(self, request: Request, pk: str) -> Response:
        body = _validated(api.SubmitSerializer, request.data)
        pipeline = _load(request, pk)
        refused = _refuse_stale(pipeline, body["version"])
        if refused is not None:
            return refused
        pipeline.request = submission_request(request, body["data"])
        return pipeline.current_step()

    @extend_schema(
        request=api.VersionSerializer,
        responses={
            200: api.DESCRIPTOR,
            400: OpenApiResponse(_ERROR, description="Malformed, or `back_not_allowed`."),
            409: _CONFLICT,
            410: _GONE,
            **_COMMON,
            **_BODY,
        },
        parameters=[_FLOW_TOKEN],
        summary="Go back one step",
    )
    @action(detail=True, methods=["post"])
    def back(self, request: Request, pk: str) -> Response:
        body = _validated(api.VersionSerializer, request.data)
        pipeline = _load(request, pk)
        return _refuse_stale(pipeline, body["version"]) or pipeline.back()

    @extend_schema(
        request=None,
        responses={204: None, 409: _CONFLICT, 410: _GONE, **_COMMON},
        parameters=[_FLOW_TOKEN],
        summary="Cancel a flow",
    )
    def destroy(self, request: Request, pk: str) -> Response:
        # A cancel does not depend on the step, so it tries again when another
        # request moved the flow first; only an ended flow refuses it for good.
        pipeline = _load(request, pk)
        store = get_store()
        for _attempt in range(3):
            state = pipeline.flow
            assert state is not None
            if state.status != ACTIVE:
                return _conflict(pipeline)
            state.cancel()
            if store.compare_and_set(state, state.version):
                return Response(status=status.HTTP_204_NO_CONTENT)
            pipeline = _load(request, pk)
        return pipeline.describe_conflict("stale_version", _("This flow keeps moving; try again."))

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "state",
                OpenApiTypes.STR,
                OpenApiParameter.QUERY,
                description="The state the flow issued; other query parameters go to its step.",
            )
        ],
        responses={
            200: OpenApiResponse(
                api.DESCRIPTOR, description="With `Accept: application/json`: the descriptor."
            ),
            302: OpenApiResponse(
                description="Back to the frontend with `?pipeline={id}` (and `error` if refused)."
            ),
            400: OpenApiResponse(
                _ERROR,
                description="`state_missing`, `state_unknown`, `state_reused`, `state_mismatch`.",
            ),
            401: _COMMON[401],
            403: OpenApiResponse(_ERROR, description="`state_wrong_session`."),
            404: OpenApiResponse(
                _ERROR,
                description="The flow was deleted while its step ran (`pipeline_not_found`).",
            ),
            409: _CONFLICT,
            410: _GONE,
            413: _STEP_TOO_LARGE,
            503: _COMMON[503],
        },
        summary="Return target of browser redirects (OAuth)",
    )
    @action(detail=False, methods=["get"])
    def callback(self, request: Request) -> HttpResponseBase:
        """Find the flow by its `state`, run its step with the query, send the browser back.

        Only a GET does: DRF answers HEAD with the GET handler, and a link
        checker's HEAD would otherwise spend the state (and the provider's
        code) before the browser arrives.
        """
        if request.method == "HEAD":
            raise exceptions.MethodNotAllowed(request.method)
        wants_json = _asks_for_json(request)
        try:
            state, record = _issuer(request)
        except PipelineError as error:
            if wants_json:
                raise
            # The state names no flow of this client's: nowhere better to go.
            return _to_frontend(None, error=str(error.get_codes()))
        try:
            pipeline = _resume(request, state, record)
            response = pipeline.current_step()
        except PipelineError as error:
            if wants_json:
                raise
            # The browser is this flow's: send it back to the flow's own page.
            return _to_frontend(state, error=str(error.get_codes()))
        if wants_json:
            return response
        if response.status_code == status.HTTP_409_CONFLICT:
            # Another request moved the flow while this one ran: what it
            # brought back is lost, and the app must say so.
            return _to_frontend(pipeline.flow, error="stale_version")
        return _to_frontend(pipeline.flow)


def _asks_for_json(request: Request) -> bool:
    """Whether `Accept` names `application/json`, in any case, and not at q=0.

    Named, not merely matched: a browser's `*/*` asks for the redirect.
    """
    return any(
        (media.main_type, media.sub_type) == ("application", "json")
        for media in request._request.accepted_types
    )


def _issuer(request: Request) -> tuple[FlowState, CallbackRecord]:
    """The flow of this client's that issued the request's `state`; else refuse."""
    key = request.query_params.get("state")
    if not key:
        raise CallbackStateMissing()
    store = get_store()
    record = store.find_callback(ownership.hash_token(key))
    state = store.load(record.flow_id) if record is not None else None
    if record is None or state is None:
        raise CallbackStateUnknown()
    if not ownership.owns(request, state):
        raise CallbackWrongSession()
    return state, record


def _resume(request: Request, state: FlowState, record: CallbackRecord) -> Pipeline:
    """The flow, its callback state spent; else refuse.

    Every check comes before the state is spent and before any step runs,
    so a refused callback exchanges nothing and leaves the flow as it was.
    """
    if record.used:
        raise CallbackStateReused()
    pipeline = _checked(request, state)
    key_hash = ownership.hash_token(request.query_params["state"])
    if state.status != ACTIVE or state.callback_hash != key_hash:
        raise CallbackStateMismatch()
    if not get_store().use_callback(key_hash, timezone.now()):
        raise CallbackStateReused()
    pipeline.callback_received()
    pipeline.request = query_request(request)
    return pipeline


def _to_frontend(state: FlowState | None, *, error: str = "") -> HttpResponseRedirect:
    """The flow's `return_to` (checked when it started), else the frontend URL.

    Its query keeps its own parameters, as written (decoded and encoded
    again, `%ff` or a bare `flag` would not come back the same), but those
    the redirect speaks in: an `error` of its own would read to the app as
    this callback refused.
    """
    target = state.return_to if state is not None and state.return_to else conf.FRONTEND_URL
    params = {"pipeline": state.id} if state is not None else {}
    if error:
        params["error"] = error
    parts = urlsplit(target)
    kept = [
        piece
        for piece in parts.query.split("&")
        if piece and unquote_plus(piece.partition("=")[0]) not in ("pipeline", "error")
    ]
    query = "&".join([*kept, urlencode(params)] if params else kept)
    return HttpResponseRedirect(urlunsplit(parts._replace(query=query)))


def _catalog_entry(pipeline_cls: type[Pipeline]) -> dict[str, Any]:
    providers = listed(pipeline_cls.provider_manager)
    return {
        "name": pipeline_cls.pipeline_name,
        "title": str(pipeline_cls.title),
        "providers": [{"key": p.key, "name": str(p.name)} for p in providers],
    }


def _validated(serializer_cls: type[serializers.Serializer[Any]], data: Any) -> dict[str, Any]:
    """The request envelope, validated; a `ValidationError` (400) if malformed.

    `run_validation` keeps nothing on the serializer (`is_valid` is what
    stores results), so one instance per envelope class serves every
    request and thread, sparing a deep copy of its fields per request.
    """
    return dict(_envelope(serializer_cls).run_validation(data))


@functools.cache
def _envelope(serializer_cls: type[serializers.Serializer[Any]]) -> serializers.Serializer[Any]:
    return serializer_cls()


def _load(request: Request, flow_id: str) -> Pipeline:
    """The flow's pipeline, shown to `request`, if it owns it and it can go on."""
    state = get_store().load(flow_id)
    if state is None or not ownership.owns(request, state):
        raise PipelineNotFound()
    enforce_csrf_on_flow(request, state)
    return _checked(request, state)


def _checked(request: Request, state: FlowState) -> Pipeline:
    """The flow's pipeline, unless it was cancelled, expired or outdated."""
    refuse_gone(state)
    try:
        pipeline_cls = get_pipeline_class(state.pipeline)
    except UnknownPipeline:
        raise PipelineOutdated(
            state.pipeline, state.provider, PipelineOutdated.pipeline_withdrawn
        ) from None
    if not serves(pipeline_cls.provider_manager, state.provider):
        raise PipelineOutdated(state.pipeline, state.provider, PipelineOutdated.provider_withdrawn)
    pipeline = pipeline_cls(display_request(request), state.provider, state=state)
    outdated = pipeline.outdated_detail() if state.status == ACTIVE else None
    if outdated is not None:
        raise PipelineOutdated(state.pipeline, state.provider, outdated)
    return pipeline


def _refuse_stale(pipeline: Pipeline, version: int) -> Response | None:
    """409 for a finished flow or a version that is not the current one."""
    state = pipeline.flow
    assert state is not None
    if state.status != ACTIVE:
        return _conflict(pipeline)
    if version != state.version:
        return pipeline.describe_conflict("stale_version", _("This flow has moved on."))
    return None


def _conflict(pipeline: Pipeline) -> Response:
    return pipeline.describe_conflict("pipeline_finished", _("This flow is already finished."))


def _checked_return_to(request: Request, url: str) -> str:
    """`url` if it is a path of ours or on an allowed origin, and not too long to keep.

    Its length is counted percent-encoded (`é` counts six): the callback's
    `Location` carries it so, and past 16,384 characters Django refuses to
    redirect, after the step has run. The callback adds only its own
    parameters to it.
    """
    if len(iri_to_uri(url)) > MAX_RETURN_TO_LENGTH:
        raise InvalidReturnTo(_("The return address is too long."))
    if url and not is_allowed_target(url, also=[f"{request.scheme}://{request.get_host()}"]):
        raise InvalidReturnTo()
    return url


def _initial_state(pipeline: Pipeline, initial_data: dict[str, Any]) -> dict[str, Any]:
    """Bind what the provider declares of `initial_data`; ignore the rest."""
    serializer_cls = pipeline.provider.initial_data_serializer
    if serializer_cls is None or not initial_data:
        return {}
    serializer = serializer_cls(data=initial_data, partial=True)
    if not serializer.is_valid():
        raise InvalidRequest(errors=flatten_errors({"initial_data": serializer.errors}))
    data = as_json(serializer)
    errors = non_finite_errors(data, "initial_data")
    if errors:
        raise InvalidRequest(errors=errors)
    return {INITIAL_DATA_KEY: data}
