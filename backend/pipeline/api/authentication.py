"""Session authentication that checks CSRF the way the rest of the API does."""

from drf_spectacular.authentication import SessionScheme
from rest_framework import authentication
from rest_framework.request import Request

from .protection import enforce_csrf


class SessionAuthentication(authentication.SessionAuthentication):
    """DRF's session authentication, with the API's CSRF rule.

    DRF's own check would refuse a logged-in browser's header-token request
    (which needs no CSRF token) and answer `permission_denied` rather than
    `csrf_failed`.
    """

    def enforce_csrf(self, request: Request) -> None:
        enforce_csrf(request)


class SessionAuthenticationScheme(SessionScheme):  # type: ignore[no-untyped-call]
    """Documents the subclass as the cookie session scheme it is."""

    target_class = "backend.pipeline.api.authentication.SessionAuthentication"
