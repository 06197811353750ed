from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "backend.integrations"
    label = "integrations"
