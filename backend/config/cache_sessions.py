"""Sessions in the cache (Redis, with `REDIS_URL`) that tell a cache that is down from no session.

Django's cache backend takes any error reading a session for no session
at all (memcached refuses some keys). With Redis down, a logged-in user's
request would then run as anonymous: their flows would answer 404, as if
they were gone, and a client would start again. Here an error of a Redis
that is down or does not answer is let through, so that the request
answers 503 like a database that is down, and the same request goes
through once Redis is back.
"""

from typing import Any

from django.contrib.sessions.backends import cache
from django.core.cache.backends.base import BaseCache

from backend.pipeline.api.exceptions import UNAVAILABLE


class SessionStore(cache.SessionStore):
    _cache: BaseCache  # set by Django's backend, not declared by its stubs

    def load(self) -> dict[str, Any]:
        try:
            data = self._cache.get(self.cache_key)
        except UNAVAILABLE:
            raise
        except Exception:  # as Django's backend: a key the cache refuses is no session
            data = None
        return self._loaded(data)

    async def aload(self) -> dict[str, Any]:
        try:
            data = await self._cache.aget(await self.acache_key())
        except UNAVAILABLE:
            raise
        except Exception:
            data = None
        return self._loaded(data)

    def _loaded(self, data: dict[str, Any] | None) -> dict[str, Any]:
        if data is not None:
            return data
        self._session_key = None
        return {}
