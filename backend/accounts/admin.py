from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.utils.safestring import SafeData, mark_safe
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from oauth2_provider.models import get_access_token_model, get_refresh_token_model
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import Token, TokenProxy

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
        return _start_of(token.key)

    def response_add(self, request: HttpRequest, obj: ApiToken, *args: Any) -> HttpResponse:
        message = gettext("The key of %(token)s, shown this once: %(key)s")
        self.message_user(request, message % {"token": obj, "key": obj.key}, messages.WARNING)
        response: HttpResponse = super().response_add(request, obj, *args)
        return response


admin.site.unregister(User)


@admin.register(User)
class AccountAdmin(UserAdmin[User]):
    """Django's user admin; a user who signed in through the demo's OAuth server can go too.

    The toolkit's admin refuses deleting an access or refresh token by hand
    (its way is revoking, which keeps a token's family consistent), and
    Django would take that refusal as one to delete the tokens' user. A
    user's whole families of tokens go with the user, for whoever may
    delete tokens. What the deletion takes is listed with each API token
    cut to its start, as the token admin lists it.
    """

    def get_deleted_objects(
        self, objs: Any, request: HttpRequest
    ) -> tuple[list[Any], dict[Any, int], set[str], list[Any]]:
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        for tokens in (get_access_token_model(), get_refresh_token_model()):
            opts = tokens._meta
            if request.user.has_perm(
                f"{opts.app_label}.{get_permission_codename('delete', opts)}"
            ):
                perms_needed.discard(str(opts.verbose_name))
        keys = list(Token.objects.filter(user__in=objs).values_list("key", flat=True))
        return _cut(deleted, keys), counts, perms_needed, protected


def _cut(listed: list[Any], keys: list[str]) -> list[Any]:
    """Django's nested list of what a deletion takes, with `keys` cut to their start."""
    cut: list[Any] = []
    for item in listed:
        if isinstance(item, list):
            cut.append(_cut(item, keys))
            continue
        for key in keys:
            if key in item:
                shown = str(item).replace(key, _start_of(key))
                # A key is hex: cutting one leaves safe text safe.
                item = mark_safe(shown) if isinstance(item, SafeData) else shown
        cut.append(item)
    return cut


def _start_of(key: str) -> str:
    """As much of a key as tells it apart from others, too little to act with."""
    return f"{key[:4]}…"
