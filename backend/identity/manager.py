"""The identity providers, all in one provider manager."""

from backend.pipeline import ProviderManager

from .dummy import DummyProvider
from .local import LocalProvider
from .presets import GitHubProvider, GoogleProvider, SlackProvider

default_manager = ProviderManager()
for provider_cls in (DummyProvider, LocalProvider, GitHubProvider, SlackProvider, GoogleProvider):
    default_manager.register(provider_cls)
