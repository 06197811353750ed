"""Every error the API answers is the protocol's envelope, crashes too."""

import json
from typing import Any

import pytest
from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.exceptions import SessionInterrupted
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.db import DatabaseError, OperationalError
from django.http import Http404
from django.test import RequestFactory
from rest_framework import exceptions

from backend.onboarding.pipeline import OnboardingPipeline
from backend.pipeline.api.exceptions import (
    bad_request,
    exception_handler,
    not_found,
    server_error,
)
from backend.pipeline.errors import (
    CsrfFailed,
    InvalidRequest,
    PipelineCancelled,
    PipelineExpired,
    PipelineOutdated,
)
from tests.conftest import CONFIRM, FlowClient

from .conftest import position


def handled(exc: Exception) -> tuple[int, Any]:
    response = exception_handler(exc, {})
    assert response is not None
    return response.status_code, response.data


def test_a_validation_error_is_invalid_request_with_flat_errors() -> None:
    exc = exceptions.ValidationError(
        {
            "version": [exceptions.ErrorDetail("Required.", code="required")],
            "data": {"address": {"street": [exceptions.ErrorDetail("Too long.", code="max")]}},
            "non_field_errors": [exceptions.ErrorDetail("Nope.", code="nope")],
        }
    )
    status, body = handled(exc)
    assert status == 400
    assert body == {
        "error": {
            "code": "invalid_request",
            "message": "The request is malformed.",
            "errors": [
                {"code": "required", "message": "Required.", "field": "version"},
                {"code": "max", "message": "Too long.", "field": "data.address.street"},
                {"code": "nope", "message": "Nope.", "field": None},
            ],
        }
    }


def test_errors_of_list_items_are_indexed() -> None:
    exc = exceptions.ValidationError(
        {"tags": [{}, {"name": [exceptions.ErrorDetail("Bad.", code="bad")]}]}
    )
    assert handled(exc)[1]["error"]["errors"] == [
        {"code": "bad", "message": "Bad.", "field": "tags.1.name"}
    ]


def test_an_invalid_request_error_keeps_its_errors() -> None:
    exc = InvalidRequest(errors=[{"code": "x", "message": "y", "field": "z"}])
    status, body = handled(exc)
    assert status == 400
    assert body["error"]["code"] == "invalid_request"
    assert body["error"]["errors"] == [{"code": "x", "message": "y", "field": "z"}]


@pytest.mark.parametrize(
    ("exc_cls", "code"),
    [
        (PipelineExpired, "pipeline_expired"),
        (PipelineCancelled, "pipeline_cancelled"),
        (PipelineOutdated, "pipeline_outdated"),
    ],
)
def test_a_gone_flow_is_410_with_restart(exc_cls: type[PipelineExpired], code: str) -> None:
    status, body = handled(exc_cls("onboarding", "default"))
    assert status == 410
    assert body["error"]["code"] == code
    assert body["error"]["restart"] == {"pipeline": "onboarding", "provider": "default"}


def test_csrf_failure_is_403_csrf_failed() -> None:
    status, body = handled(CsrfFailed())
    assert status == 403
    assert body["error"]["code"] == "csrf_failed"


def test_djangos_http404_becomes_the_not_found_envelope() -> None:
    assert handled(Http404("gone")) == (
        404,
        {"error": {"code": "not_found", "message": "Not found."}},
    )


def test_djangos_permission_denied_becomes_the_envelope() -> None:
    status, body = handled(PermissionDenied())
    assert status == 403
    assert body["error"]["code"] == "permission_denied"


def test_drf_errors_keep_their_code() -> None:
    status, body = handled(exceptions.MethodNotAllowed("PUT"))
    assert status == 405
    assert body["error"] == {"code": "method_not_allowed", "message": 'Method "PUT" not allowed.'}


def test_an_unexpected_exception_is_left_to_the_500_handler() -> None:
    assert exception_handler(RuntimeError("boom"), {}) is None


def test_the_404_handler_answers_the_envelope() -> None:
    response = not_found(RequestFactory().get("/api/nope/"))
    assert response.status_code == 404
    assert json.loads(response.content) == {
        "error": {"code": "not_found", "message": "Not found."}
    }


def test_the_500_handler_answers_the_envelope() -> None:
    response = server_error(RequestFactory().get("/api/pipelines/"))
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == {
        "error": {"code": "server_error", "message": "Server error."}
    }


def test_a_crash_in_finish_pipeline_is_a_500_envelope_and_leaves_the_flow_at_its_step(
    client: FlowClient, at_confirm: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(self: OnboardingPipeline) -> Any:
        raise RuntimeError("the mail server is down")

    monkeypatch.setattr(OnboardingPipeline, "finish_pipeline", crash)
    client.raw.raise_request_exception = False
    response = client.submit(at_confirm, CONFIRM)
    assert response.status_code == 500
    assert response.json() == {"error": {"code": "server_error", "message": "Server error."}}
    assert position(client, at_confirm["id"]) == ("confirm", at_confirm["step"]["version"])


def test_a_flow_whose_finish_crashed_can_be_finished_again(
    client: FlowClient, at_confirm: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patched:
        patched.setattr(OnboardingPipeline, "finish_pipeline", lambda self: 1 / 0)
        client.raw.raise_request_exception = False
        client.submit(at_confirm, CONFIRM)
    done = client.submit(at_confirm, CONFIRM)
    assert done.status_code == 200
    assert done.json()["kind"] == "complete"


def test_a_database_outage_outside_api_views_is_a_503_envelope() -> None:
    try:
        raise OperationalError("could not connect to server")
    except OperationalError:
        response = server_error(RequestFactory().get("/api/auth/me/"))
    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert json.loads(response.content)["error"]["code"] == "database_unavailable"


def _session_interrupted(cause: Exception) -> SessionInterrupted:
    """What Django's session middleware raises when saving a session fails with `cause`."""
    try:
        try:
            raise cause
        except DatabaseError:
            raise UpdateError  # noqa: B904  (as Django raises them: chained implicitly)
    except UpdateError:
        try:
            raise SessionInterrupted("The request's session was deleted.")
        except SessionInterrupted as interrupted:
            return interrupted


def test_a_session_not_saved_for_a_database_outage_is_a_503_envelope() -> None:
    interrupted = _session_interrupted(OperationalError("server closed the connection"))
    response = bad_request(RequestFactory().post("/api/pipelines/"), interrupted)
    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert json.loads(response.content)["error"]["code"] == "database_unavailable"


@pytest.mark.parametrize(
    "exception",
    [
        _session_interrupted(DatabaseError("Forced update did not affect any rows.")),
        SuspiciousOperation("Invalid HTTP_HOST header"),
    ],
)
def test_other_bad_requests_are_a_400_envelope(exception: Exception) -> None:
    response = bad_request(RequestFactory().get("/api/pipelines/"), exception)
    assert response.status_code == 400
    assert json.loads(response.content) == {
        "error": {"code": "bad_request", "message": "Bad request."}
    }
