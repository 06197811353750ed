"""What finishing an integration flow does, apart from any view or pipeline."""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from .models import NAME_LENGTH, Integration


class IntegrationTaken(Exception):
    """The external account is installed by another user of ours."""


def install_integration(
    *,
    user: AbstractBaseUser,
    provider: str,
    external_id: str,
    name: str,
    metadata: dict[str, Any],
) -> tuple[Integration, bool]:
    """Install, or reinstall in place: one integration per provider and external id.

    Returns the integration and whether it is new. One installed by another
    user is refused (`IntegrationTaken`), and nothing is written: an
    external id is not always proven (the example's is typed in), so
    reinstalling must not hand someone else's integration over. The name is
    for display and built from what the service says, so it is cut to what
    the column holds rather than refused.
    """
    with transaction.atomic():
        integration = (
            Integration.objects.select_for_update()
            .filter(provider=provider, external_id=external_id)
            .first()
        )
        if integration is not None and integration.user_id != user.pk:
            raise IntegrationTaken(external_id)
        created = integration is None
        if integration is None:
            integration = Integration(provider=provider, external_id=external_id, user_id=user.pk)
        integration.name = name[:NAME_LENGTH]
        integration.metadata = metadata
        integration.save()
        return integration, created
