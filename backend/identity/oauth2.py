"""OAuth2 identity providers: a login step and a callback step, as in Sentry.

The login step sends the browser to the provider's authorize URL with a
fresh random single-use `state` (issued by the flow, so the callback
endpoint finds the flow by it) and a PKCE S256 challenge whose verifier
stays in the flow. When the browser comes back through
`/api/pipelines/callback/`, the login step hands the request on to the
callback step, which checks `state` again, and `iss` where the provider
names its issuer (RFC 9207), exchanges the code through authlib (the
client secret sent as HTTP Basic only) and fetches the user.

Every way the sign-in can go wrong ends the same way: the flow goes back
to the login step with an error of a stable code and a message of our own
(the provider's words are never shown), so the user can simply try again.
A provider that is not configured fails the flow instead, as no second
attempt could succeed.
"""

from __future__ import annotations

import contextlib
import hmac
import json
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise
from rest_framework.request import Request

from backend.pipeline import Pipeline, PipelineView, Redirect, Step, StepResult

from . import conf
from .base import Provider
from .models import EXTERNAL_ID_LENGTH

#: A callback from another server than the one the browser was sent to.
ISSUER_MISMATCH = ("oauth_issuer_mismatch", _("The sign-in came from elsewhere."))

#: Where the login step keeps the attempt under way: state, verifier, redirect URI, issuer.
ATTEMPT_KEY = "oauth_attempt"

PROVIDER_ERRORS: dict[str, StrOrPromise] = {
    "access_denied": _("You did not allow access."),
    "invalid_scope": _("The provider refused the permissions asked for."),
    "server_error": _("The provider had an error. Try again."),
    "temporarily_unavailable": _("The provider is busy. Try again in a moment."),
}
TOKEN_ERRORS: dict[str, StrOrPromise] = {
    "invalid_grant": _("The sign-in expired or was already used. Try again."),
    "invalid_client": _("This site's credentials for the provider were refused."),
    "unauthorized_client": _("This site may not sign in with the provider this way."),
}


#: The code of a failure no second attempt could mend: a setting found nowhere.
NOT_CONFIGURED = "oauth_not_configured"


class OAuthFailure(Exception):
    """Talking to the provider failed; `code` is stable, `message` is ours."""

    def __init__(self, code: str, message: StrOrPromise) -> None:
        super().__init__(code)
        self.code = code
        self.message = message


class OAuth2Provider(Provider):
    """An identity provider speaking OAuth2's authorization code flow with PKCE.

    Each `oauth_<name>` setting is looked up as a class attribute, then in
    the pipeline's config (`oauth_<name>`), then in the provider model's
    config (`<name>`), then in the `IDENTITY_PROVIDERS` setting for this key.
    `oauth_scopes` in the config replaces the class's scopes.
    """

    oauth_authorize_url: ClassVar[str] = ""
    oauth_access_token_url: ClassVar[str] = ""
    oauth_client_id: ClassVar[str] = ""
    oauth_client_secret: ClassVar[str] = ""
    oauth_scopes: ClassVar[Sequence[str]] = ()
    #: The provider's issuer identifier (RFC 9207), if it names itself in `iss`.
    oauth_issuer: ClassVar[str] = ""
    #: Where the signed-in user is described (fetched with the access token).
    user_url: ClassVar[str] = ""

    @classmethod
    def is_available(cls) -> bool:
        settings = conf.provider_settings(cls.key)
        client_id = cls.oauth_client_id or settings.get("client_id")
        client_secret = cls.oauth_client_secret or settings.get("client_secret")
        return bool(client_id and client_secret)

    def get_pipeline_views(self) -> Sequence[Step]:
        return [OAuth2LoginView(), OAuth2CallbackView()]

    # -- settings -------------------------------------------------------------

    def get_oauth_setting(self, name: str) -> str:
        value = getattr(self, f"oauth_{name}", "") or self.config.get(f"oauth_{name}")
        model = self.pipeline.provider_model if self.pipeline is not None else None
        model_config = getattr(model, "config", None)
        if not value and isinstance(model_config, dict):
            value = model_config.get(name)
        if not value:
            value = conf.provider_settings(self.key).get(name)
        if not value:
            raise OAuthFailure(NOT_CONFIGURED, _("This provider is not set up."))
        return str(value)

    def get_issuer(self) -> str:
        """The issuer the callback must name in `iss` (RFC 9207), or "" to take any.

        Known, it tells this provider's answer from another's that the
        browser was made to bring here (a mix-up attack), and a callback
        naming no issuer, or another, exchanges nothing.
        """
        try:
            return self.get_oauth_setting("issuer")
        except OAuthFailure:
            return ""

    def get_oauth_scopes(self) -> list[str]:
        return list(self.config.get("oauth_scopes", self.oauth_scopes))

    def get_redirect_uri(self, request: Request) -> str:
        """The callback endpoint's absolute URL, unless the config names another."""
        configured = self.config.get("redirect_url")
        return str(configured or request.build_absolute_uri(reverse("pipeline-callback")))

    # -- talking to the provider ----------------------------------------------

    def client(self) -> OAuth2Session:
        return OAuth2Session(
            client_id=self.get_oauth_setting("client_id"),
            client_secret=self.get_oauth_setting("client_secret"),
            token_endpoint_auth_method="client_secret_basic",
            code_challenge_method="S256",
            scope=" ".join(self.get_oauth_scopes()),
        )

    def get_authorize_url(self, *, state: str, code_verifier: str, redirect_uri: str) -> str:
        url, _state = self.client().create_authorization_url(
            self.get_oauth_setting("authorize_url"),
            state=state,
            code_verifier=code_verifier,
            redirect_uri=redirect_uri,
        )
        return str(url)

    def exchange_code(self, *, code: str, code_verifier: str, redirect_uri: str) -> dict[str, Any]:
        """The token response for `code`, or an `OAuthFailure`."""
        client = self.client()
        with talking_to_provider():
            token = client.fetch_token(
                self.get_oauth_setting("access_token_url"),
                grant_type="authorization_code",
                code=code,
                code_verifier=code_verifier,
                redirect_uri=redirect_uri,
                timeout=conf.http_timeout(),
            )
            keepable(token)
        if not token.get("access_token"):
            raise OAuthFailure("oauth_invalid_response", _("The provider's answer made no sense."))
        return dict(token)

    def get_user(self, token: dict[str, Any]) -> dict[str, Any]:
        """`{"id", "email", "name", ...}` of the signed-in user."""
        with talking_to_provider():
            described = self.get_json(self.get_user_url(), token)
            if not isinstance(described, dict):
                raise ValueError("the user is not a JSON object")
            return self.parse_user(described)

    def get_json(self, url: str, token: dict[str, Any]) -> Any:
        """A provider API's JSON answer, with the access token (errors raise, as `keepable`)."""
        response = requests.get(
            url,
            headers={
                "Authorization": f"Bearer {token['access_token']}",
                "Accept": "application/json",
            },
            timeout=conf.http_timeout(),
        )
        response.raise_for_status()
        return keepable(response.json())

    def get_user_url(self) -> str:
        return self.user_url

    def parse_user(self, described: dict[str, Any]) -> dict[str, Any]:
        """Our description of the user from the provider's (raises if unusable)."""
        return {
            "id": external_id(described["sub"]),
            "email": described.get("email"),
            "name": described.get("name"),
        }

    def build_identity(self, state: dict[str, Any]) -> dict[str, Any]:
        token = state["token"]
        user = state["user"]
        return {
            "id": user["id"],
            "email": user.get("email"),
            "name": user.get("name"),
            "scopes": _scopes(token.get("scope")),
            "data": {
                "user": user,
                **{
                    key: token[key]
                    for key in ("access_token", "token_type", "refresh_token", "expires_at")
                    if key in token
                },
            },
        }


class OAuth2LoginView(PipelineView):
    """Sends the browser to the provider; hands its return to the callback step."""

    name = "login"
    title = _("Sign in with the provider")

    def dispatch(self, request: Request, pipeline: Pipeline) -> StepResult:
        if request.query_params:
            # The browser is back (only a callback carries a query string to
            # a step): whatever it brings is for the callback step to judge.
            return pipeline.next_step(request)
        provider = _oauth_provider(pipeline)
        attempt = pipeline.fetch_state(ATTEMPT_KEY)
        if not (isinstance(attempt, dict) and pipeline.awaits_callback(attempt["state"])):
            attempt = {
                "state": pipeline.expect_callback(),
                "code_verifier": generate_token(64),
                "redirect_uri": provider.get_redirect_uri(request),
                "issuer": provider.get_issuer(),
            }
            pipeline.bind_state(ATTEMPT_KEY, attempt)
        try:
            url = provider.get_authorize_url(
                state=attempt["state"],
                code_verifier=attempt["code_verifier"],
                redirect_uri=attempt["redirect_uri"],
            )
        except OAuthFailure as failure:
            return pipeline.error(failure.message, code=failure.code)
        return Redirect(url, title=_("Continue to %(provider)s") % {"provider": provider.name})


class OAuth2CallbackView(PipelineView):
    """Checks the callback, exchanges the code, and learns who the user is."""

    name = "callback"
    title = _("Signing in")
    allow_back = False

    def dispatch(self, request: Request, pipeline: Pipeline) -> StepResult:
        params = request.query_params
        if not params:
            # Shown with no browser coming back: start the sign-in again.
            return pipeline.previous_step()
        attempt = pipeline.fetch_state(ATTEMPT_KEY)
        pipeline.bind_state(ATTEMPT_KEY, None)  # single use, whatever comes next
        if not isinstance(attempt, dict) or not hmac.compare_digest(
            str(params.get("state", "")).encode("utf-8", "surrogatepass"),
            str(attempt["state"]).encode("utf-8", "surrogatepass"),
        ):
            return retry(pipeline, "state_mismatch", _("The sign-in could not be matched."))
        # A code another server gave, which the browser was made to bring here
        # (a mix-up attack), is never exchanged; nor is an error another server
        # gave told as this provider's (RFC 9207). A code must name the issuer;
        # an error may name none (django-oauth-toolkit names itself on codes only).
        issuer = attempt.get("issuer") or ""
        if "error" in params:
            if issuer and params.get("iss", issuer) != issuer:
                return retry(pipeline, *ISSUER_MISMATCH)
            message = PROVIDER_ERRORS.get(
                params["error"], _("The provider did not let you sign in.")
            )
            return retry(pipeline, "oauth_provider_error", message)
        code = params.get("code")
        if not code:
            return retry(pipeline, "oauth_missing_code", _("The provider sent no code."))
        if issuer and params.get("iss") != issuer:
            return retry(pipeline, *ISSUER_MISMATCH)
        provider = _oauth_provider(pipeline)
        try:
            token = provider.exchange_code(
                code=code,
                code_verifier=attempt["code_verifier"],
                redirect_uri=attempt["redirect_uri"],
            )
            user = provider.get_user(token)
        except OAuthFailure as failure:
            if failure.code == NOT_CONFIGURED:  # trying again cannot help
                return pipeline.error(failure.message, code=failure.code)
            return retry(pipeline, failure.code, failure.message)
        pipeline.bind_state("token", token)
        pipeline.bind_state("user", user)
        return pipeline.next_step()


def retry(pipeline: Pipeline, code: str, message: StrOrPromise) -> StepResult:
    """Back to the login step, saying what went wrong."""
    return pipeline.previous_step(error=message, code=code)


@contextlib.contextmanager
def talking_to_provider() -> Iterator[None]:
    """Every way a provider's answer can fail, as an `OAuthFailure` of its own code."""
    try:
        yield
    except requests.exceptions.SSLError:
        raise OAuthFailure(
            "oauth_tls_error", _("The provider's certificate was refused.")
        ) from None
    except requests.exceptions.Timeout:
        raise OAuthFailure("oauth_timeout", _("The provider took too long to answer.")) from None
    except requests.exceptions.ConnectionError:
        raise OAuthFailure(
            "oauth_connection_error", _("The provider could not be reached.")
        ) from None
    except requests.exceptions.HTTPError:
        raise OAuthFailure("oauth_http_error", _("The provider answered with an error.")) from None
    except OAuthError as error:
        message = TOKEN_ERRORS.get(str(error.error), _("The provider refused the sign-in."))
        raise OAuthFailure("oauth_token_error", message) from None
    except (ValueError, KeyError, TypeError, OverflowError):
        raise OAuthFailure(
            "oauth_invalid_response", _("The provider's answer made no sense.")
        ) from None


def keepable(value: Any) -> Any:
    """`value`, if a flow's state can keep it; else a `ValueError`.

    Python reads from a provider's JSON what JSON cannot hold, nor the
    flow's state: NaN and Infinity (and 1e400, as infinity), and strings
    with a lone surrogate (from a `\\ud83d` escape: no UTF-8 encodes it),
    and PostgreSQL refuses NUL characters in JSON and text alike.
    """
    # A UnicodeEncodeError (a lone surrogate) is a ValueError too.
    json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8")
    if any("\x00" in text for text in _strings(value)):
        raise ValueError("a NUL character")
    return value


def _strings(value: Any) -> Iterator[str]:
    """Every string in a JSON value, its keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def external_id(value: Any) -> str:
    """A user's id at the provider, as text; refuses none, an empty one or one too long to keep."""
    text = "" if value is None or isinstance(value, bool | dict | list) else str(value)
    if not text or len(text) > EXTERNAL_ID_LENGTH:
        raise ValueError("the provider gave no usable user id")
    return text


def _oauth_provider(pipeline: Pipeline) -> OAuth2Provider:
    provider = pipeline.provider
    if not isinstance(provider, OAuth2Provider):
        raise TypeError(f"{type(provider).__name__} is not an OAuth2 provider")
    return provider


def _scopes(granted: Any) -> list[str]:
    if isinstance(granted, str):
        return [scope for scope in granted.replace(",", " ").split() if scope]
    if isinstance(granted, list):
        return [str(scope) for scope in granted]
    return []
