"""Pipeline providers and the manager that finds them by key."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from django_stubs_ext import StrOrPromise
from rest_framework import serializers

from .errors import UnknownProvider

if TYPE_CHECKING:
    from .base import Pipeline
    from .steps import Step


class PipelineProvider:
    """The implementation of one flow: its key, its name, its steps.

    A pipeline type (identity linking, say) has several providers (GitHub,
    Slack, ...), each with its own steps but the same ending.
    """

    key: ClassVar[str] = ""
    name: ClassVar[StrOrPromise] = ""
    #: Fields a client may bind when it starts a flow (`initial_data`);
    #: anything else it sends is ignored.
    initial_data_serializer: ClassVar[type[serializers.Serializer[Any]] | None] = None

    def __init__(self) -> None:
        self.config: dict[str, Any] = {}
        self.pipeline: Pipeline | None = None

    @classmethod
    def is_available(cls) -> bool:
        """Whether it can run here (its credentials are configured, say)."""
        return True

    def set_config(self, config: dict[str, Any]) -> None:
        self.config.update(config)

    def set_pipeline(self, pipeline: Pipeline) -> None:
        """The pipeline running this provider (for its request and provider model)."""
        self.pipeline = pipeline

    def get_pipeline_views(self) -> Sequence[Step]:
        raise NotImplementedError(f"{type(self).__name__} must declare its pipeline views")


P = TypeVar("P", bound=type[PipelineProvider])


class ProviderLookup(Protocol):
    """All a pipeline asks of its provider manager, as Sentry's pipeline does.

    `get` answers a fresh provider for a key, and raises a `LookupError`
    (a `KeyError`, say, or `UnknownProvider`) for a key it does not serve.
    `ProviderManager` below is one; any object with such a `get` will do.
    """

    def get(self, provider_key: str) -> PipelineProvider: ...


def serves(manager: ProviderLookup, provider_key: str) -> bool:
    """Whether `manager` has a provider for `provider_key` (a `ProviderManager` builds none)."""
    if isinstance(manager, ProviderManager):
        return provider_key in manager
    try:
        return manager.get(provider_key) is not None
    except LookupError:
        return False


def listed(manager: ProviderLookup) -> list[type[PipelineProvider]]:
    """The providers a catalog lists: a manager with no `all()` lists none."""
    if isinstance(manager, ProviderManager):
        return manager.all()
    every = getattr(manager, "all", None)
    return list(every()) if callable(every) else []


class ProviderManager:
    """A registry of provider classes; `get` builds a fresh provider.

    A fresh instance per pipeline keeps one flow's config from leaking into
    another's, which a shared provider instance would allow.
    """

    def __init__(self) -> None:
        self._providers: dict[str, type[PipelineProvider]] = {}

    def register(self, provider_cls: P) -> P:
        """Register a provider class; usable as a class decorator.

        Another class under a key already taken is refused: it would replace
        the first without a word, and flows started with it would go on with
        other steps. To replace a provider, `unregister` its key first.
        """
        if not provider_cls.key:
            raise ValueError(f"{provider_cls.__name__} has no key")
        taken = self._providers.get(provider_cls.key)
        if taken is not None and taken is not provider_cls:
            raise ValueError(
                f"{provider_cls.__name__}: the key {provider_cls.key!r} is {taken.__name__}'s"
            )
        self._providers[provider_cls.key] = provider_cls
        return provider_cls

    def unregister(self, key: str) -> None:
        self._providers.pop(key, None)

    def get(self, provider_key: str) -> PipelineProvider:
        provider_cls = self._available(provider_key)
        if provider_cls is None:
            raise UnknownProvider()
        return provider_cls()

    def __contains__(self, provider_key: object) -> bool:
        return self._available(provider_key) is not None

    def all(self) -> list[type[PipelineProvider]]:
        """The providers available here, in registration order."""
        return [cls for cls in self._providers.values() if cls.is_available()]

    def _available(self, provider_key: object) -> type[PipelineProvider] | None:
        if not isinstance(provider_key, str):
            return None
        provider_cls = self._providers.get(provider_key)
        return provider_cls if provider_cls is not None and provider_cls.is_available() else None
