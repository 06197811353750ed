from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import Flow


@admin.register(Flow)
class FlowAdmin(admin.ModelAdmin[Flow]):
    """Flows are looked at, never edited: every write goes through the engine."""

    list_display = ("id", "pipeline", "provider", "status", "step_index", "user", "expires_at")
    list_filter = ("pipeline", "status")
    search_fields = ("id", "pipeline", "provider")
    readonly_fields = [field.name for field in Flow._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Expired flows go with `clearpipelines`; live ones are cancelled through the API.
        return False
