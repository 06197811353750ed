from collections.abc import Sequence

import pytest

from backend.pipeline import PipelineProvider, ProviderManager, Step
from backend.pipeline.errors import UnknownProvider


class ExampleProvider(PipelineProvider):
    key = "example"
    name = "Example"

    def get_pipeline_views(self) -> Sequence[Step]:
        return []


def test_manager_get_builds_a_fresh_provider_each_time() -> None:
    manager = ProviderManager()
    manager.register(ExampleProvider)
    first, second = manager.get("example"), manager.get("example")
    first.set_config({"scope": "a"})
    assert isinstance(first, ExampleProvider)
    assert first is not second
    assert second.config == {}


@pytest.mark.parametrize("key", ["missing", "", None, 3, ["example"]])
def test_manager_get_of_an_unknown_key_raises_unknown_provider(key: object) -> None:
    manager = ProviderManager()
    manager.register(ExampleProvider)
    with pytest.raises(UnknownProvider):
        manager.get(key)  # type: ignore[arg-type]


def test_an_unknown_provider_is_a_lookup_error_as_the_manager_contract_says() -> None:
    # Code written against any manager catches LookupError; ours must be caught too.
    with pytest.raises(LookupError):
        ProviderManager().get("missing")


def test_register_works_as_a_class_decorator_and_lists_providers() -> None:
    manager = ProviderManager()
    decorated = manager.register(ExampleProvider)
    assert decorated is ExampleProvider
    assert "example" in manager
    assert manager.all() == [ExampleProvider]
    manager.unregister("example")
    assert "example" not in manager


def test_register_refuses_a_provider_without_a_key() -> None:
    class Keyless(PipelineProvider):
        pass

    with pytest.raises(ValueError, match="no key"):
        ProviderManager().register(Keyless)


def test_register_refuses_another_provider_under_a_key_already_taken() -> None:
    class Impostor(ExampleProvider):
        pass

    manager = ProviderManager()
    manager.register(ExampleProvider)
    manager.register(ExampleProvider)  # the same class again changes nothing
    with pytest.raises(ValueError, match="the key 'example' is ExampleProvider's"):
        manager.register(Impostor)
    assert manager.all() == [ExampleProvider]
    manager.unregister("example")
    manager.register(Impostor)
    assert manager.all() == [Impostor]


def test_a_provider_must_declare_its_views() -> None:
    with pytest.raises(NotImplementedError):
        PipelineProvider().get_pipeline_views()


class UnavailableProvider(PipelineProvider):
    key = "unavailable"
    name = "Unavailable"

    @classmethod
    def is_available(cls) -> bool:
        return False


def test_an_unavailable_provider_is_neither_listed_nor_found() -> None:
    manager = ProviderManager()
    manager.register(ExampleProvider)
    manager.register(UnavailableProvider)
    assert manager.all() == [ExampleProvider]
    assert "unavailable" not in manager
    with pytest.raises(UnknownProvider):
        manager.get("unavailable")
