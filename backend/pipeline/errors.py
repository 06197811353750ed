"""One error hierarchy with stable codes.

Every error the API can answer is an `APIException` with a `status_code`
and a `default_code`; the exception handler in `api/exceptions.py` turns
each into the protocol's envelope (`README.md` here). Codes are part of
the contract: clients translate them, so they never change once published.
"""

from collections.abc import Mapping
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import APIException, ErrorDetail
from rest_framework.settings import api_settings

from .state import CANCELLED, FlowState


class PipelineError(APIException):
    status_code: int = status.HTTP_400_BAD_REQUEST
    default_code = "pipeline_error"
    default_detail = _("The pipeline could not handle this request.")

    def __init__(self, detail: Any = None, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail, code)
        self.extra = extra


class InvalidRequest(PipelineError):
    """The request itself is malformed; `errors` lists what is wrong."""

    default_code = "invalid_request"
    default_detail = _("The request is malformed.")


class InvalidReturnTo(PipelineError):
    default_code = "invalid_return_to"
    default_detail = _(
        "The return address must be a path from the root, or a URL on an allowed origin, "
        "with no control characters."
    )


class BackNotAllowed(PipelineError):
    default_code = "back_not_allowed"
    default_detail = _("This step cannot go back.")


class CsrfFailed(PipelineError):
    status_code = status.HTTP_403_FORBIDDEN
    default_code = "csrf_failed"
    default_detail = _("CSRF verification failed.")


class PipelineNotFound(PipelineError):
    status_code = status.HTTP_404_NOT_FOUND
    default_code = "pipeline_not_found"
    default_detail = _("No such flow.")


class UnknownPipeline(PipelineError):
    status_code = status.HTTP_404_NOT_FOUND
    default_code = "unknown_pipeline"
    default_detail = _("No such pipeline.")


class UnknownProvider(PipelineError, LookupError):
    """Also a `LookupError`, as a provider manager's `get` is to raise for a key it lacks."""

    status_code = status.HTTP_404_NOT_FOUND
    default_code = "unknown_provider"
    default_detail = _("No such provider for this pipeline.")


class FlowGone(PipelineError):
    """The flow cannot go on; the client should start it again."""

    status_code = status.HTTP_410_GONE

    def __init__(self, pipeline: str, provider: str, detail: Any = None) -> None:
        super().__init__(detail, restart={"pipeline": pipeline, "provider": provider})


class PipelineExpired(FlowGone):
    default_code = "pipeline_expired"
    default_detail = _("This flow has expired.")


class PipelineCancelled(FlowGone):
    default_code = "pipeline_cancelled"
    default_detail = _("This flow was cancelled.")


class PipelineOutdated(FlowGone):
    """The flow no longer fits the code; `detail` says how, when not by its steps."""

    default_code = "pipeline_outdated"
    default_detail = _("This flow's steps have changed since it started.")
    pipeline_withdrawn = _("This pipeline is no longer offered.")
    provider_withdrawn = _("This provider is no longer offered for this pipeline.")
    provider_model_gone = _("What this flow was started for no longer exists.")


def refuse_gone(state: FlowState) -> None:
    """410 for a flow that was cancelled or has expired, however a request came upon it."""
    if state.status == CANCELLED:
        raise PipelineCancelled(state.pipeline, state.provider)
    if state.is_expired(timezone.now()):
        raise PipelineExpired(state.pipeline, state.provider)


class CallbackError(PipelineError):
    """A browser came back to the callback with a state that leads nowhere.

    Nothing is exchanged and no flow is touched.
    """


class CallbackStateMissing(CallbackError):
    default_code = "state_missing"
    default_detail = _("The callback carries no state.")


class CallbackStateUnknown(CallbackError):
    default_code = "state_unknown"
    default_detail = _("No flow issued this state.")


class CallbackStateReused(CallbackError):
    default_code = "state_reused"
    default_detail = _("This state was already used.")


class CallbackStateMismatch(CallbackError):
    default_code = "state_mismatch"
    default_detail = _("The flow no longer waits for this state.")


class CallbackWrongSession(CallbackError):
    status_code = status.HTTP_403_FORBIDDEN
    default_code = "state_wrong_session"
    default_detail = _("This state belongs to a flow of another session.")


class StateTooLarge(PipelineError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "state_too_large"
    default_detail = _("This flow cannot keep that much data.")


class TooManyFlows(PipelineError):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "too_many_flows"
    default_detail = _("Too many unfinished flows: finish or cancel some first.")


class DatabaseUnavailable(PipelineError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "database_unavailable"
    default_detail = _("The service cannot reach its database. Try again shortly.")


class PayloadTooLarge(PipelineError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"
    default_detail = _("The request body is too large.")


def error_item(code: str, message: Any, field: str | None = None) -> dict[str, Any]:
    return {"code": code, "message": str(message), "field": field}


def flatten_errors(detail: Any, field: str | None = None) -> list[dict[str, Any]]:
    """DRF's nested error detail as a flat list with dotted field names.

    Errors under DRF's `NON_FIELD_ERRORS_KEY` (`non_field_errors`) belong
    to the enclosing object, so their `field` is the enclosing path, `null`
    at the top. Any other key is a field's name, `detail` included.
    """
    if isinstance(detail, Mapping):
        items: list[dict[str, Any]] = []
        for key, value in detail.items():
            name = None if key == api_settings.NON_FIELD_ERRORS_KEY else str(key)
            path = name if field is None else (field if name is None else f"{field}.{name}")
            items.extend(flatten_errors(value, path))
        return items
    if isinstance(detail, list):
        if all(isinstance(item, ErrorDetail | str) for item in detail):
            return [error_item(_code_of(item), item, field) for item in detail]
        # A list of per-item errors (ListField, many=True): index the path.
        nested: list[dict[str, Any]] = []
        for index, item in enumerate(detail):
            if item:
                path = str(index) if field is None else f"{field}.{index}"
                nested.extend(flatten_errors(item, path))
        return nested
    return [error_item(_code_of(detail), detail, field)]


def _code_of(detail: Any) -> str:
    return str(getattr(detail, "code", None) or "invalid")
