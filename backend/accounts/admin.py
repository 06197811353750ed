from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import TokenProxy

from .models import ApiToken

admin.site.unregister(TokenProxy)


@admin.register(ApiToken)
class ApiTokenAdmin(TokenAdmin):
    """DRF's token admin, the keys shown once: to whoever adds one, as it is added.

    Listed by their first characters only, to tell them apart: whoever may
    see the list may not therefore act as every user who has a token.
    """

    list_display = ("key_start", "user", "created")

    @admin.display(description=_("Key"))
    def key_start(self, token: ApiToken) -> str:
        return f"{token.key[:4]}…"

    def response_add(self, request: HttpRequest, obj: ApiToken, *args: Any) -> HttpResponse:
        message = gettext("The key of %(token)s, shown this once: %(key)s")
        self.message_user(request, message % {"token": obj, "key": obj.key}, messages.WARNING)
        response: HttpResponse = super().response_add(request, obj, *args)
        return response
