"""The identity pipeline: every provider ends in a linked `Identity`."""

from typing import Any

from django.utils.translation import gettext_lazy as _

from backend.pipeline import Pipeline

from .base import Provider
from .manager import default_manager
from .models import IdentityProvider
from .services import IdentityAlreadyLinked, link_identity, provider_for


class IdentityPipeline(Pipeline):
    pipeline_name = "identity"
    title = _("Link an identity")
    provider_manager = default_manager
    provider_model_cls = IdentityProvider
    login_required = True

    def finish_pipeline(self) -> Any:
        provider = self.provider
        assert isinstance(provider, Provider)
        built = provider.build_identity(self.fetch_state())
        idp = self.provider_model
        if not isinstance(idp, IdentityProvider):
            idp = provider_for(provider.key)
        try:
            identity = link_identity(
                user=self.request.user,  # type: ignore[arg-type]
                idp=idp,
                external_id=str(built["id"]),
                data={key: value for key, value in built.items() if key != "scopes"},
                scopes=built.get("scopes"),
            )
        except IdentityAlreadyLinked:
            return self.error(
                _("This account is already linked to another user."),
                code="identity_already_linked",
            )
        return {
            "identity": {
                "id": identity.pk,
                "provider": provider.key,
                "external_id": identity.external_id,
                "email": built.get("email"),
                "name": built.get("name"),
            }
        }
