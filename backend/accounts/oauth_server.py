"""The demo's OAuth2 server: django-oauth-toolkit, plus the user it describes.

It stands for a third party's service (GitHub, Slack) so that the demo
links identities with no internet. `demo_setup` registers the demo's
client application with it.
"""

from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from oauth2_provider.models import get_application_model
from oauth2_provider.views import AuthorizationView as ToolkitAuthorizationView
from oauth2_provider.views import ScopedProtectedResourceView

from backend.pipeline.api.exceptions import bad_request

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


class AuthorizationView(ToolkitAuthorizationView):  # type: ignore[misc]
    """The toolkit's consent page; a consent for no registered application is a 400.

    The page posts the client id back from a hidden field, which the
    toolkit then looks up with `get()`: a tampered one would be a 500.
    """

    def form_valid(self, form: Any) -> HttpResponse:
        client_id = form.cleaned_data["client_id"]
        if not get_application_model().objects.filter(client_id=client_id).exists():
            return bad_request(self.request)
        return super().form_valid(form)  # type: ignore[no-any-return]


def application_in_admin(request: HttpRequest, pk: int) -> HttpResponseRedirect:
    """Where an application's own URL leads: its admin page.

    The toolkit's management pages are not routed, but its applications
    still name one of them as their URL (the admin's "View on site").
    """
    return HttpResponseRedirect(reverse("admin:oauth2_provider_application_change", args=[pk]))
