"""Checks every API view makes before it looks at a request."""

from typing import Any

from django.core.exceptions import BadRequest
from django.http import HttpRequest
from django.http.multipartparser import MultiPartParserError
from django.http.request import RawPostDataException
from rest_framework.authentication import CSRFCheck, TokenAuthentication, get_authorization_header
from rest_framework.exceptions import ParseError
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request

from .. import ownership
from ..conf import conf
from ..errors import CsrfFailed, PayloadTooLarge
from ..ownership import TOKEN_HEADER
from ..state import FlowState


def enforce_csrf(request: Request) -> None:
    """Check CSRF on every unsafe request that no header authenticates.

    DRF checks CSRF only for logged-in session users; a flow bound to an
    anonymous session is worth protecting too. A browser never adds a
    header of its own to a cross-site request, so a request that a header
    authenticates is exempt. `Authorization: Token` always is, its scheme
    in any case (DRF authenticates by it, or refuses with a 401). `X-Pipeline-Token` is
    only when it is the token of the flow at that URL, which the view
    learns once it has loaded the flow (`enforce_csrf_on_flow`); anywhere
    else it proves nothing, and a made-up one must not lift the check.
    """
    if request.method in SAFE_METHODS or _by_auth_token(request):
        return
    if TOKEN_HEADER in request._request.META and _about_a_flow(request):
        return  # left to `enforce_csrf_on_flow`
    _check_csrf(request._request)


def enforce_csrf_on_flow(request: Request, state: FlowState) -> None:
    """What `enforce_csrf` left to the flow: is `X-Pipeline-Token` its token?"""
    if request.method in SAFE_METHODS or _by_auth_token(request):
        return
    if TOKEN_HEADER in request._request.META and not ownership.holds_token(request, state):
        _check_csrf(request._request)


def _by_auth_token(request: Request) -> bool:
    """`Authorization: Token ...`, its scheme in any case, as DRF reads it (RFC 9110)."""
    words = get_authorization_header(request).split()
    return bool(words) and words[0].lower() == TokenAuthentication.keyword.lower().encode()


def _about_a_flow(request: Request) -> bool:
    """On a flow's URL of a view that checks flow tokens (`flow_token_views`)."""
    context = request.parser_context or {}
    view = context.get("view")
    return getattr(view, "flow_token_views", False) and "pk" in context.get("kwargs", {})


def _check_csrf(http: HttpRequest) -> None:
    _read_form(http)
    check = CSRFCheck(_no_response)
    check.process_request(http)  # puts the CSRF cookie where process_view reads it
    reason = check.process_view(http, None, (), {})  # type: ignore[arg-type]
    if reason:
        raise CsrfFailed(detail=f"{CsrfFailed.default_detail} {reason}")


def check_body_size(request: Request) -> None:
    """Refuse a body declared too large before reading any of it.

    A safe request's body is never read, so its size does not matter.
    """
    if request.method in SAFE_METHODS:
        return
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


class NotStoredMixin:
    """Answers no cache keeps: they are one client's (a flow, its token, who is logged in).

    An anonymous step reads no session, so Django's `Vary: Cookie` is not
    there to keep a shared cache from serving one client's flow to another.
    """

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        response.headers.setdefault("Cache-Control", "no-store")
        return response


class GuardedViewMixin(NotStoredMixin):
    """CSRF and body size, checked before authentication and parsing; answers not stored."""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        check_body_size(request)
        enforce_csrf(request)
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
