from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "backend.identity"
    label = "identity"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the deployment checks)
