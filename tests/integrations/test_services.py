from typing import Any

import pytest

from backend.integrations.models import Integration
from backend.integrations.services import IntegrationTaken, install_integration
from tests.races import row_lands_after_lookup

pytestmark = pytest.mark.django_db


def test_install_creates_an_integration(user: Any) -> None:
    integration, created = install_integration(
        user=user, provider="chat", external_id="T1", name="Team", metadata={"channel": "ops"}
    )
    assert created
    assert (integration.user, integration.metadata) == (user, {"channel": "ops"})


def test_reinstalling_updates_in_place(user: Any) -> None:
    install_integration(user=user, provider="chat", external_id="T1", name="Team", metadata={})
    again, created = install_integration(
        user=user, provider="chat", external_id="T1", name="Renamed", metadata={"a": 1}
    )
    assert not created
    assert Integration.objects.count() == 1
    assert (again.name, again.user, again.metadata) == ("Renamed", user, {"a": 1})


def test_an_integration_another_user_installed_is_not_handed_over(
    user: Any, other_user: Any
) -> None:
    install_integration(user=user, provider="example", external_id="acme", name="A", metadata={})
    with pytest.raises(IntegrationTaken):
        install_integration(
            user=other_user, provider="example", external_id="acme", name="B", metadata={"x": 1}
        )
    kept = Integration.objects.get()
    assert (kept.user, kept.name, kept.metadata) == (user, "A", {})


def test_the_same_external_id_of_another_provider_is_another_integration(user: Any) -> None:
    install_integration(user=user, provider="chat", external_id="1", name="a", metadata={})
    install_integration(user=user, provider="example", external_id="1", name="b", metadata={})
    assert Integration.objects.count() == 2


def test_a_name_longer_than_an_integration_keeps_is_cut_to_fit(user: Any) -> None:
    # Providers build the name from what the service says (the chat user's name).
    integration, _created = install_integration(
        user=user, provider="chat", external_id="T1", name="N" * 300, metadata={}
    )
    integration.refresh_from_db()
    assert integration.name == "N" * 200


def test_an_integration_whose_user_was_deleted_can_be_installed_again(
    user: Any, other_user: Any
) -> None:
    install_integration(user=user, provider="example", external_id="acme", name="A", metadata={})
    user.delete()
    again, created = install_integration(
        user=other_user, provider="example", external_id="acme", name="B", metadata={}
    )
    assert (created, again.user, again.name) == (False, other_user, "B")


def test_an_install_made_at_the_same_moment_by_the_same_user_is_updated(user: Any) -> None:
    their = {"provider": "chat", "external_id": "T1", "name": "First", "user": user}
    with row_lands_after_lookup(Integration, **their):
        _, created = install_integration(
            user=user, provider="chat", external_id="T1", name="Second", metadata={}
        )
    assert not created
    assert Integration.objects.get().name == "Second"


def test_an_install_made_at_the_same_moment_by_another_user_is_refused(
    user: Any, other_user: Any
) -> None:
    their = {"provider": "chat", "external_id": "T1", "name": "Theirs", "user": other_user}
    with row_lands_after_lookup(Integration, **their), pytest.raises(IntegrationTaken):
        install_integration(user=user, provider="chat", external_id="T1", name="Mine", metadata={})
