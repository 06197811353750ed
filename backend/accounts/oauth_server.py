"""The demo's OAuth2 server: django-oauth-toolkit, plus the user it describes.

It stands for a third party's service (GitHub, Slack) so that the demo
links identities with no internet. `demo_setup` registers the demo's
client application with it.
"""

from typing import Any

from django.http import HttpRequest, JsonResponse
from oauth2_provider.views import ScopedProtectedResourceView

#: The demo client registered by `demo_setup`.
DEMO_APPLICATION_NAME = "Pipelines demo"


class UserInfoView(ScopedProtectedResourceView):  # type: ignore[misc]
    """Who the access token's user is, and the chat channels they are in."""

    required_scopes = ["profile"]

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        user = request.resource_owner  # type: ignore[attr-defined]
        return JsonResponse(
            {
                "id": str(user.pk),
                "username": user.get_username(),
                "email": user.email,
                "name": user.get_full_name() or user.get_username(),
                "channels": ["general", "random", f"{user.get_username()}-alerts"],
            }
        )
