"""The demo's own OAuth2 server (django-oauth-toolkit at /o/), as a provider.

It lets `make run` link an identity end to end with no internet: the
browser signs in on the local server's pages and authorizes, and the
callback exchanges the code with the same server. Its endpoints are on
the origin that serves the request, unless `IDENTITY_PROVIDERS["local"]`
names a `base_url`.
"""

from typing import Any
from urllib.parse import urlsplit

from django.utils.translation import gettext_lazy as _

from . import conf
from .oauth2 import OAuth2Provider, external_id

AUTHORIZE_PATH = "/o/authorize/"
TOKEN_PATH = "/o/token/"
USER_PATH = "/o/userinfo/"


class LocalProvider(OAuth2Provider):
    key = "local"
    name = _("Local demo server")
    oauth_scopes = ("profile",)

    @classmethod
    def is_available(cls) -> bool:
        return bool(conf.provider_settings(cls.key).get("enabled")) and super().is_available()

    def get_oauth_setting(self, name: str) -> str:
        paths = {"authorize_url": AUTHORIZE_PATH, "access_token_url": TOKEN_PATH}
        if name in paths:
            return self._url(paths[name])
        return super().get_oauth_setting(name)

    def get_user_url(self) -> str:
        return self._url(USER_PATH)

    def get_issuer(self) -> str:
        # The server names itself in `iss` by its origin alone, whatever path
        # it is served under: it serves no metadata, which would name it.
        configured = super().get_issuer()
        if configured:
            return configured
        server = urlsplit(self._url("/"))
        return f"{server.scheme}://{server.netloc}"

    def parse_user(self, described: dict[str, Any]) -> dict[str, Any]:
        channels = described.get("channels", [])
        if not isinstance(channels, list):
            raise ValueError("the channels are not a list")
        return {
            "id": external_id(described["id"]),
            "email": described.get("email"),
            "name": described.get("name"),
            "channels": [str(channel) for channel in channels],
        }

    def _url(self, path: str) -> str:
        base = conf.provider_settings(self.key).get("base_url")
        if base:
            return f"{str(base).rstrip('/')}{path}"
        assert self.pipeline is not None, "the local provider runs inside a pipeline"
        return self.pipeline.request.build_absolute_uri(path)
