"""The one exception handler: every API error as the PROTOCOL.md envelope."""

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from ..errors import InvalidRequest, PipelineError, flatten_errors


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    response.data = envelope(exc)
    return response


def envelope(exc: exceptions.APIException) -> dict[str, Any]:
    if isinstance(exc, exceptions.ValidationError):
        error: dict[str, Any] = {
            "code": InvalidRequest.default_code,
            "message": str(InvalidRequest.default_detail),
            "errors": flatten_errors(exc.detail),
        }
    else:
        codes = exc.get_codes()
        error = {
            "code": codes if isinstance(codes, str) else exc.default_code,
            "message": str(exc.detail),
        }
    if isinstance(exc, PipelineError):
        error.update(exc.extra)
    return {"error": error}


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """Django's 404 for paths no view claims, answered as JSON."""
    body = {"error": {"code": "not_found", "message": _("Not found.")}}
    return JsonResponse(body, status=404)


def server_error(request: HttpRequest) -> JsonResponse:
    body = {"error": {"code": "server_error", "message": _("Server error.")}}
    return JsonResponse(body, status=500)
