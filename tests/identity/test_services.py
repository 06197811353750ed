from typing import Any

import pytest
from django.utils import timezone

from backend.identity.models import Identity
from backend.identity.services import IdentityAlreadyLinked, link_identity, provider_for
from tests.races import row_lands_after_lookup

pytestmark = pytest.mark.django_db


def _link(user: Any, **extra: Any) -> Identity:
    return link_identity(user=user, idp=provider_for("dummy"), external_id="E1", data=extra)


def test_linking_creates_an_identity(user: Any) -> None:
    identity = _link(user, email="a@example.com")
    assert (identity.user, identity.data) == (user, {"email": "a@example.com"})


def test_linking_again_refreshes_the_link_in_place(user: Any) -> None:
    _link(user, email="old@example.com")
    again = _link(user, email="new@example.com")
    assert Identity.objects.count() == 1
    assert again.data == {"email": "new@example.com"}


def test_an_account_linked_to_another_user_is_refused(user: Any, other_user: Any) -> None:
    _link(other_user, email="theirs@example.com")
    with pytest.raises(IdentityAlreadyLinked):
        _link(user, email="mine@example.com")
    assert Identity.objects.get().data == {"email": "theirs@example.com"}


def _their_link(user: Any) -> dict[str, Any]:
    return {
        "user": user,
        "idp": provider_for("dummy"),
        "external_id": "E1",
        "data": {"email": "first@example.com"},
        "date_verified": timezone.now(),
    }


def test_a_link_made_at_the_same_moment_by_the_same_user_is_refreshed(user: Any) -> None:
    with row_lands_after_lookup(Identity, **_their_link(user)):
        identity = _link(user, email="second@example.com")
    assert Identity.objects.count() == 1
    assert identity.data == {"email": "second@example.com"}


def test_a_link_made_at_the_same_moment_by_another_user_is_refused(
    user: Any, other_user: Any
) -> None:
    with (
        row_lands_after_lookup(Identity, **_their_link(other_user)),
        pytest.raises(IdentityAlreadyLinked),
    ):
        _link(user, email="mine@example.com")
