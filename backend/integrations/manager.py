"""The integration providers, all in one provider manager."""

from backend.pipeline import ProviderManager

from .chat import ChatProvider
from .example import ExampleProvider

integration_manager = ProviderManager()
integration_manager.register(ExampleProvider)
integration_manager.register(ChatProvider)
