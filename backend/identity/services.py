"""What finishing an identity flow does, apart from any view or pipeline."""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from .models import Identity, IdentityProvider, IdentityStatus


class IdentityAlreadyLinked(Exception):
    """The external account belongs to another user of ours."""


def link_identity(
    *,
    user: AbstractBaseUser,
    idp: IdentityProvider,
    external_id: str,
    data: dict[str, Any],
    scopes: list[str] | None = None,
) -> Identity:
    """Link the external account to `user`, or refresh the existing link.

    An account already linked to someone else is refused, and nothing is
    written.
    """
    with transaction.atomic():
        identity = (
            Identity.objects.select_for_update().filter(idp=idp, external_id=external_id).first()
        )
        if identity is not None and identity.user_id != user.pk:
            raise IdentityAlreadyLinked(external_id)
        if identity is None:
            identity = Identity(user_id=user.pk, idp=idp, external_id=external_id)
        identity.data = data
        identity.scopes = list(scopes or [])
        identity.status = IdentityStatus.VALID
        identity.date_verified = timezone.now()
        identity.save()
        return identity


def provider_for(provider_type: str) -> IdentityProvider:
    """The shared provider row of a provider type that needs no configuration."""
    idp, _ = IdentityProvider.objects.get_or_create(type=provider_type, external_id="")
    return idp
