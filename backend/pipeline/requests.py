"""Requests as a step sees them.

A view learns from its request whether it is being shown or given input,
just as a Sentry pipeline view does from GET and POST. When a step moves
the flow on, the next step is dispatched with a *display* request: a GET
with no body and no query string, as a browser would make after a
redirect. So no step mistakes the previous step's input for its own; a
step that means to hand its request on says so, with
`next_step(request)`.
"""

import copy
from collections.abc import Mapping
from typing import Any

from django.http import QueryDict
from django.utils.datastructures import MultiValueDict
from rest_framework.request import Request


def display_request(request: Request) -> Request:
    """The display request of the HTTP request `request` came from.

    Made once per HTTP request: every step shown while serving it is given
    the same one, however many steps a submit moves through.
    """
    origin: Request = vars(request).get(_ORIGIN, request)
    shown: Request | None = vars(origin).get(_DISPLAY)
    if shown is None:
        shown = vars(origin)[_DISPLAY] = _derive(origin, method="GET", data={}, query=QueryDict())
    return shown


def submission_request(request: Request, data: Mapping[str, Any]) -> Request:
    """A POST whose `data` is the step's input alone (not the API envelope)."""
    return _derive(request, method="POST", data=data, query=QueryDict())


def query_request(request: Request) -> Request:
    """A GET carrying only the query string (a browser coming back)."""
    return _derive(request, method="GET", data={}, query=request.query_params)


def _derive(
    request: Request, *, method: str, data: Mapping[str, Any], query: QueryDict
) -> Request:
    # Shallow copies: they share the user if the original was authenticated,
    # and otherwise the HTTP request's lazy user, so the session is read at
    # most once, and only if something asks who the client is.
    http = copy.copy(request._request)
    http.method = method
    http.GET = query  # type: ignore[assignment]
    clone = copy.copy(request)
    # DRF reads `data` from these private slots once parsed; filling them
    # spares a parse and keeps the clone from touching the original stream.
    vars(clone).update(
        _request=http,
        _data=data,
        _full_data=data,
        _files=MultiValueDict(),
    )
    vars(clone)[_ORIGIN] = vars(request).get(_ORIGIN, request)
    return clone


#: Where a derived request keeps the request it was derived from, and the
#: original keeps its display request (attributes DRF's `Request` leaves alone).
_ORIGIN = "_pipeline_origin"
_DISPLAY = "_pipeline_display"
