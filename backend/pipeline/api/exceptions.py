"""The one exception handler: every API error as the protocol's envelope."""

import sys
from typing import Any

import redis
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, JsonResponse
from django.urls import Resolver404, resolve
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from ..errors import DatabaseUnavailable, InvalidRequest, PipelineError, flatten_errors

#: Errors of a database that is down, unreachable or locked, not of our queries;
#: and of a Redis (the Redis store's, or the cache's that holds the sessions and
#: the throttles' counts) that is down or does not answer in its socket timeout.
UNAVAILABLE = (OperationalError, InterfaceError, redis.ConnectionError, redis.TimeoutError)
#: Seconds a client should wait before trying again after a 503.
RETRY_AFTER = "1"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, UNAVAILABLE):
        exc = DatabaseUnavailable()
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    response.data = envelope(exc)
    if isinstance(exc, DatabaseUnavailable):
        response["Retry-After"] = RETRY_AFTER
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
    return _error(404, "not_found", _("Not found."))


@csrf_exempt
def unrouted(request: HttpRequest) -> JsonResponse:
    """The 404 of a path under the API that no view claims, routed last.

    Routed rather than left to `handler404`, so that it is answered the
    same whatever DEBUG says (Django's debug page is HTML), and so that a
    path missing its trailing slash is not redirected: Django refuses to
    redirect a POST (an error page) and clients follow a 301 with a GET, so
    a submit would come back as a 200 that moved nothing.
    """
    if not request.path_info.endswith("/") and _claimed(f"{request.path_info}/"):
        return _error(404, "not_found", _("Not found: API paths end with a slash."))
    return not_found(request)


def _claimed(path: str) -> bool:
    try:
        return resolve(path).func is not unrouted
    except Resolver404:
        return False


def bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """Django's 400 for what no view answers, as JSON; a database that is down is a 503.

    Django turns a session that could not be saved into a 400
    (`SessionInterrupted`), whether the session was deleted meanwhile or
    the database failed; the database error it was raised from tells them
    apart.
    """
    if _raised_from(exception, UNAVAILABLE):
        return _unavailable()
    return _error(400, "bad_request", _("Bad request."))


def server_error(request: HttpRequest) -> JsonResponse:
    """An unhandled error, as JSON; a database or Redis that is down is a 503 like in the API.

    Django calls this while handling the exception, so it can be looked at
    (a session that cannot be created or saved fails outside any API view).
    """
    if isinstance(sys.exc_info()[1], UNAVAILABLE):
        return _unavailable()
    return _error(500, "server_error", _("Server error."))


def _error(status: int, code: str, message: str) -> JsonResponse:
    """The envelope of an error answered outside DRF's views."""
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def _unavailable() -> JsonResponse:
    response = JsonResponse(envelope(DatabaseUnavailable()), status=503)
    response["Retry-After"] = RETRY_AFTER
    return response


def _raised_from(exception: BaseException | None, kinds: tuple[type[Exception], ...]) -> bool:
    """Whether `exception`, or one it was raised while handling, is of `kinds`."""
    seen: set[int] = set()
    while exception is not None and id(exception) not in seen:
        if isinstance(exception, kinds):
            return True
        seen.add(id(exception))
        exception = exception.__cause__ or exception.__context__
    return False
