from django.apps import AppConfig


class PipelineConfig(AppConfig):
    name = "backend.pipeline"
    label = "pipeline"
    verbose_name = "Pipelines"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, ownership, registry  # noqa: F401  (registers checks and signal handlers)
