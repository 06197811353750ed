"""Checks every API view makes before it looks at a request."""

from typing import Any

from django.core.exceptions import BadRequest
from django.http import HttpRequest
from django.http.multipartparser import MultiPartParserError
from django.http.request import RawPostDataException
from rest_framework.authentication import CSRFCheck
from rest_framework.exceptions import ParseError
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request

from ..conf import conf
from ..errors import CsrfFailed, PayloadTooLarge
from ..ownership import TOKEN_HEADER


def enforce_csrf(request: Request) -> None:
    """Check CSRF on every unsafe request carrying no header token.

    DRF checks CSRF only for logged-in session users; a flow bound to an
    anonymous session is worth protecting too. A request authenticated by
    a header (`Authorization: Token`, `X-Pipeline-Token`) is exempt: a
    browser never adds those on its own to a cross-site request.
    """
    if request.method in SAFE_METHODS:
        return
    meta = request._request.META
    if TOKEN_HEADER in meta or str(meta.get("HTTP_AUTHORIZATION", "")).startswith("Token "):
        return
    http = request._request
    _read_form(http)
    check = CSRFCheck(_no_response)
    check.process_request(http)  # puts the CSRF cookie where process_view reads it
    reason = check.process_view(http, None, (), {})  # type: ignore[arg-type]
    if reason:
        raise CsrfFailed(detail=f"{CsrfFailed.default_detail} {reason}")


def check_body_size(request: Request) -> None:
    """Refuse a body declared too large before reading any of it."""
    try:
        length = int(request._request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > conf.MAX_BODY_SIZE:
        raise PayloadTooLarge()


def _read_form(http: HttpRequest) -> None:
    """Read the body, and the form fields CSRF may take its token from; a 400 if unreadable.

    Read once here, the body stays there for DRF's parsers after CSRF has
    parsed a multipart form. Django raises, rather than refuses, on a
    Content-Length that is not a number, or a form whose charset is not
    text (it takes any codec Python has, rot13 and zlib included).
    """
    try:
        http.body  # noqa: B018
        http.POST  # noqa: B018
    except RawPostDataException:
        pass  # already read as a stream: nothing more to check
    except (ValueError, LookupError, MultiPartParserError, BadRequest):
        raise ParseError("The request body could not be read.") from None


def _no_response(request: HttpRequest) -> Any:
    return None


class GuardedViewMixin:
    """CSRF and body size, checked before authentication and parsing."""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        check_body_size(request)
        enforce_csrf(request)
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
