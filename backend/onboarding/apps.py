from django.apps import AppConfig


class OnboardingConfig(AppConfig):
    name = "backend.onboarding"
    label = "onboarding"
