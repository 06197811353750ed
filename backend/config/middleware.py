"""A value the database refuses, answered as the client's error it is."""

import logging
from collections.abc import Callable

from django.db import DataError
from django.http import HttpRequest, HttpResponse

from backend.pipeline.api.exceptions import bad_request

logger = logging.getLogger(__name__)


class DataErrorMiddleware:
    """A 400 where the database refused what a request carried, rather than a 500.

    PostgreSQL refuses a NUL character in text, a string longer than its
    column and a number out of range; SQLite takes them all. The project's
    own views check what they store, but the demo's OAuth server
    (django-oauth-toolkit) looks up and stores such values as they come.
    The refused statement wrote nothing, and every `atomic()` block the
    error left has rolled back by the time it reaches here.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, DataError):
            return None
        logger.warning("The database refused a value of %s: %s", request.path, exception)
        return bad_request(request, exception)
