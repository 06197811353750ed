"""Session authentication for the single-page app."""

import functools
import math
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate, login, logout
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.middleware.csrf import get_token
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from backend.pipeline.api.methods import HTTP_METHODS
from backend.pipeline.api.protection import GuardedViewMixin, NotStoredMixin
from backend.pipeline.api.serializers import ErrorEnvelopeSerializer
from backend.pipeline.errors import PipelineError

from .serializers import CsrfSerializer, LoginSerializer, MeSerializer, me

_ERROR = ErrorEnvelopeSerializer


class LoginRateThrottle(SimpleRateThrottle):
    """`AUTH_LOGIN_RATE` attempts per address, answered 429 with `Retry-After` beyond.

    Each attempt costs a password hash, and guesses must stay slow.
    """

    scope = "login"

    def get_rate(self) -> str | None:
        return getattr(settings, "AUTH_LOGIN_RATE", None) or None

    def get_cache_key(self, request: Request, view: APIView) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def throttled_login_page(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """A login page of Django's, its attempts counted with the API's, per address.

    The local OAuth server's sign-in page and the admin's take a password
    too: unthrottled, each would be a way around `AUTH_LOGIN_RATE`. A page
    is shown as often as asked; only a POST is an attempt.
    """

    @functools.wraps(view)
    def page(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method == "POST":
            throttle = LoginRateThrottle()
            if not throttle.allow_request(Request(request), APIView()):
                refused = HttpResponse(
                    str(_("Too many sign-in attempts from your address. Try again later.")),
                    status=status.HTTP_429_TOO_MANY_REQUESTS,
                    content_type="text/plain; charset=utf-8",
                )
                wait = throttle.wait()
                if wait is not None:  # (as DRF says it)
                    refused["Retry-After"] = str(math.ceil(wait))
                return refused
        return view(request, *args, **kwargs)

    return page


class InvalidCredentials(PipelineError):
    default_code = "invalid_credentials"
    default_detail = _("Wrong username or password.")


class CsrfView(NotStoredMixin, APIView):
    """Sets the CSRF cookie and answers its token, for clients on another origin."""

    http_method_names = HTTP_METHODS

    @extend_schema(responses={200: CsrfSerializer, 401: _ERROR}, summary="Get a CSRF token")
    def get(self, request: Request) -> Response:
        return Response({"csrf_token": get_token(request._request)})


class LoginView(GuardedViewMixin, APIView):
    http_method_names = HTTP_METHODS

    throttle_classes = [LoginRateThrottle]

    @extend_schema(
        request=LoginSerializer,
        responses={
            200: MeSerializer,
            400: _ERROR,
            401: _ERROR,
            403: _ERROR,
            413: _ERROR,
            415: _ERROR,
            429: _ERROR,
            503: _ERROR,
        },
        summary="Log in",
    )
    def post(self, request: Request) -> Response:
        body = LoginSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user = authenticate(
            request._request,
            username=body.validated_data["username"],
            password=body.validated_data["password"],
        )
        if user is None:
            raise InvalidCredentials()
        login(request._request, user)
        return Response(me(user))


class LogoutView(GuardedViewMixin, APIView):
    http_method_names = HTTP_METHODS

    @extend_schema(
        request=None,
        responses={204: None, 401: _ERROR, 403: _ERROR, 413: _ERROR, 503: _ERROR},
        summary="Log out",
    )
    def post(self, request: Request) -> Response:
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(NotStoredMixin, APIView):
    http_method_names = HTTP_METHODS

    @extend_schema(
        responses={200: MeSerializer, 401: _ERROR, 503: _ERROR}, summary="Who is logged in"
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(me(request.user))
