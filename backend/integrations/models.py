"""Integrations: another service set up to work with ours."""

from django.conf import settings
from django.db import models

#: The longest name an integration keeps (for display: longer ones are cut).
NAME_LENGTH = 200


class Integration(models.Model):
    """One installation of a provider (a chat workspace, say), by a user of ours."""

    provider = models.CharField(max_length=64)
    external_id = models.CharField(max_length=255)
    name = models.CharField(max_length=NAME_LENGTH)
    metadata = models.JSONField(default=dict, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="integrations",
        help_text="Who installed it.",
    )
    date_added = models.DateTimeField(auto_now_add=True)
    date_updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "external_id"], name="unique_integration")
        ]

    def __str__(self) -> str:
        return f"{self.provider}: {self.name}"
