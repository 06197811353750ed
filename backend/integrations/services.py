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
    values = {"name": name[:NAME_LENGTH], "metadata": metadata, "user_id": user.pk}
    with transaction.atomic():
        # get_or_create, so that two first installs at once make one row.
        integration, created = Integration.objects.select_for_update().get_or_create(
            provider=provider, external_id=external_id, defaults=values
        )
        if created:
            return integration, True
        if integration.user_id not in (None, user.pk):  # None: its user was deleted
            raise IntegrationTaken(external_id)
        for field, value in values.items():
            setattr(integration, field, value)
        integration.save()
        return integration, False
