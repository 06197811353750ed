"""Database sessions that take a cookie no session key could be for no key at all.

Django's session keys are 32 lowercase letters and digits, and its
database backend looks up whatever the cookie holds. PostgreSQL refuses
a NUL character in the lookup (Django's cookie parser turns an octal
escape, `"\\000"`, into one) with an error the backend does not expect: a
500, where SQLite simply finds nothing. Here a key of any other character
is no key, and the request gets a new session, as for an unknown one.
"""

from typing import Any

from django.contrib.sessions.backends import db


class SessionStore(db.SessionStore):
    def _validate_session_key(self, key: Any) -> bool:
        # Django's own rule (at least 8 characters), and only letters and digits.
        return isinstance(key, str) and len(key) >= 8 and key.isascii() and key.isalnum()
