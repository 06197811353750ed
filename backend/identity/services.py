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
    values = {
        "user_id": user.pk,
        "data": data,
        "scopes": list(scopes or []),
        "status": IdentityStatus.VALID,
        "date_verified": timezone.now(),
    }
    with transaction.atomic():
        # get_or_create, so that two first links at once make one row.
        identity, created = Identity.objects.select_for_update().get_or_create(
            idp=idp, external_id=external_id, defaults=values
        )
        if created:
            return identity
        if identity.user_id != user.pk:
            raise IdentityAlreadyLinked(external_id)
        for field, value in values.items():
            setattr(identity, field, value)
        identity.save()
        return identity


def provider_for(provider_type: str) -> IdentityProvider:
    """The shared provider row of a provider type that needs no configuration."""
    idp, _ = IdentityProvider.objects.get_or_create(type=provider_type, external_id="")
    return idp
