"""Session authentication that checks CSRF the way the rest of the API does,
and token authentication that refuses a key no token could have."""

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.authentication import SessionScheme
from rest_framework import authentication, exceptions
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


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication, refusing at once a key no token could have.

    Keys are 40 hexadecimal digits. DRF looks up whatever the header
    holds, and PostgreSQL refuses a NUL character in the lookup with an
    error (a 500) where SQLite simply finds nothing.
    """

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        if not (key.isascii() and key.isalnum()):
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        return super().authenticate_credentials(key)
