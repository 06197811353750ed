"""The integration pipeline: every provider ends in an `Integration`."""

from typing import Any

from django.utils.translation import gettext_lazy as _

from backend.pipeline import Pipeline

from .base import IntegrationProvider
from .manager import integration_manager
from .services import IntegrationTaken, install_integration


class IntegrationPipeline(Pipeline):
    pipeline_name = "integration"
    title = _("Add an integration")
    provider_manager = integration_manager
    login_required = True

    def finish_pipeline(self) -> Any:
        provider = self.provider
        assert isinstance(provider, IntegrationProvider)
        built = provider.build_integration(self.fetch_state())
        try:
            integration, created = install_integration(
                user=self.request.user,  # type: ignore[arg-type]
                provider=provider.key,
                external_id=str(built["external_id"]),
                name=str(built["name"]),
                metadata=built["metadata"],
            )
        except IntegrationTaken:
            return self.error(
                _("This integration is installed by another user."), code="integration_taken"
            )
        return {
            "integration": {
                "id": integration.pk,
                "provider": integration.provider,
                "external_id": integration.external_id,
                "name": integration.name,
                "metadata": integration.metadata,
                "created": created,
            }
        }
