"""Session cookies no session key could be are no session, on every database."""

import pytest
from django.conf import settings
from django.test import Client

from backend.config.sessions import SessionStore

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "key",
    ["abcdefgh\x00ijklmnop", "abcdefghijklmnop\x00", "abcdefgh-ijklmnop", "ábcdefghijklmnop"],
)
def test_a_key_of_other_characters_is_no_key(key: str) -> None:
    assert SessionStore(key).session_key is None


def test_a_key_django_made_is_kept() -> None:
    store = SessionStore()
    store.create()
    assert SessionStore(store.session_key).session_key == store.session_key


@pytest.mark.parametrize("path", ["/api/auth/me/", "/api/auth/csrf/"])
def test_a_session_cookie_with_a_nul_character_is_answered_as_anonymous(path: str) -> None:
    client = Client()
    # Django's cookie parser turns the octal escape into a NUL character.
    response = client.get(
        path, HTTP_COOKIE=f'{settings.SESSION_COOKIE_NAME}="abcdefgh\\000ijklmnop"'
    )
    assert response.status_code == 200
