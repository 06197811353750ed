"""Identities: a user's accounts on other services."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

#: The longest id of a user at a provider an identity keeps.
EXTERNAL_ID_LENGTH = 255


class IdentityProvider(models.Model):
    """One configured source of identities (a provider type, with its config)."""

    type = models.CharField(max_length=64)
    external_id = models.CharField(max_length=64, blank=True)
    config = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["type", "external_id"], name="unique_identity_provider"
            )
        ]

    def __str__(self) -> str:
        return f"{self.type}:{self.external_id}" if self.external_id else self.type


class IdentityStatus(models.TextChoices):
    VALID = "valid", _("Valid")
    INVALID = "invalid", _("Invalid")


class Identity(models.Model):
    """A user's account on an external service, linked by an identity flow."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="identities"
    )
    idp = models.ForeignKey(IdentityProvider, on_delete=models.CASCADE, related_name="identities")
    external_id = models.CharField(max_length=EXTERNAL_ID_LENGTH)
    data = models.JSONField(default=dict, blank=True)
    scopes = models.JSONField(default=list, blank=True)
    status = models.CharField(
        max_length=16, choices=IdentityStatus.choices, default=IdentityStatus.VALID
    )
    date_verified = models.DateTimeField()
    date_added = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "identities"
        constraints = [
            models.UniqueConstraint(fields=["idp", "external_id"], name="unique_external_identity")
        ]

    def __str__(self) -> str:
        return f"{self.idp} {self.external_id}"
