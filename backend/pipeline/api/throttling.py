"""How often a client may start flows, and what a rate setting may say."""

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from ..conf import conf


class StartRateThrottle(SimpleRateThrottle):
    """`PIPELINE_START_RATE` per user, or per address for anonymous clients.

    Answered 429 with `Retry-After`. The count lives in Django's cache, so
    several app servers share it once the cache is shared (Redis).
    """

    scope = "pipeline_start"

    def get_rate(self) -> str | None:
        # Read per request (not at import, as DRF's rates are) so settings apply.
        return conf.START_RATE

    def get_cache_key(self, request: Request, view: APIView) -> str:
        user = request.user
        ident = f"user-{user.pk}" if user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class _Rate(SimpleRateThrottle):
    """DRF's own reading of a rate, without a view to throttle."""

    def __init__(self) -> None:
        pass


def is_valid_rate(rate: Any) -> bool:
    """Whether DRF reads `rate` ("60/min", "10/hour", ...) as a number per period.

    DRF reads a rate on each request it throttles, so one it cannot read
    fails those requests; the system checks refuse it up front instead.
    """
    try:
        count, _ = _Rate().parse_rate(rate)
    except (AttributeError, IndexError, KeyError, TypeError, ValueError):
        return False
    return count is not None and count >= 0  # "0/min" refuses every request, as asked
