"""What finishing an integration flow does, apart from any view or pipeline."""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from .models import NAME_LENGTH, Integration


def install_integration(
    *,
    user: AbstractBaseUser,
    provider: str,
    external_id: str,
    name: str,
    metadata: dict[str, Any],
) -> tuple[Integration, bool]:
    """Install, or reinstall in place: one integration per provider and external id.

    Returns the integration and whether it is new. The name is for display
    and built from what the service says, so it is cut to what the column
    holds rather than refused.
    """
    return Integration.objects.update_or_create(
        provider=provider,
        external_id=external_id,
        defaults={"name": name[:NAME_LENGTH], "metadata": metadata, "user_id": user.pk},
    )
