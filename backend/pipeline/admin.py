from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import Flow

#: Shown by their keys only: what a flow bound can hold what a user typed and
#: what a provider gave (an OAuth access token); its config, a client secret.
BY_KEYS = ("data", "child", "config")


@admin.register(Flow)
class FlowAdmin(admin.ModelAdmin[Flow]):
    """Flows are looked at, never edited: every write goes through the engine.

    They can be deleted, as their user can: a deleted flow is one its
    client no longer finds (404), as after `clearpipelines`. Refusing it
    would refuse deleting any user who has a flow, expired ones included.
    """

    list_display = ("id", "pipeline", "provider", "status", "step_index", "user", "expires_at")
    list_filter = ("pipeline", "status")
    search_fields = ("id", "pipeline", "provider")
    exclude = BY_KEYS
    readonly_fields = [
        *(field.name for field in Flow._meta.fields if field.name not in BY_KEYS),
        "bound_keys",
        "config_keys",
    ]

    @admin.display(description="bound state (keys)")
    def bound_keys(self, flow: Flow) -> str:
        keys = list(flow.data) if isinstance(flow.data, dict) else []
        if isinstance(flow.child, dict):
            keys.append("(a nested pipeline running)")
        return ", ".join(keys) or "-"

    @admin.display(description="config (keys)")
    def config_keys(self, flow: Flow) -> str:
        return ", ".join(flow.config) if isinstance(flow.config, dict) and flow.config else "-"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
