"""The OpenAPI document: its view (the format asked for, errors in JSON), and its hooks."""

from typing import Any

from drf_spectacular.renderers import (
    OpenApiJsonRenderer,
    OpenApiJsonRenderer2,
    OpenApiYamlRenderer,
)
from drf_spectacular.views import SpectacularAPIView
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from .methods import HTTP_METHODS

#: Methods Django checks CSRF on.
UNSAFE = ("post", "put", "patch", "delete")

CSRF_HEADER = {
    "name": "X-CSRFToken",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": (
        "Django's CSRF token (`GET /api/auth/csrf/`, or the `csrftoken` cookie). A browser"
        " client sends it on every unsafe request, logged in or not; a request authenticated"
        " by `Authorization: Token` or by the flow's own `X-Pipeline-Token` needs none."
    ),
}


class SchemaView(SpectacularAPIView):
    """The document alone is offered in several formats (`?format=yaml`).

    By default it is `application/json`, as every answer of the API; a
    client asking for `application/vnd.oai.openapi+json` gets that. An
    error (a bad `Authorization` header, a POST) is the API's error
    envelope in JSON, as everywhere under /api/, whatever format was asked
    for the document.
    """

    renderer_classes = [OpenApiJsonRenderer2, OpenApiJsonRenderer, OpenApiYamlRenderer]
    content_negotiation_class = DefaultContentNegotiation
    http_method_names = HTTP_METHODS

    def handle_exception(self, exc: Exception) -> Response:
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)


def document_csrf(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """A drf-spectacular postprocessing hook: the CSRF header on every unsafe operation.

    DRF's session authentication, which the document describes, says
    nothing of CSRF, and a client generated from the document would never
    send it.
    """
    for path in result.get("paths", {}).values():
        for method, operation in path.items():
            if method in UNSAFE:
                operation.setdefault("parameters", []).append(CSRF_HEADER)
    return result


#: Headers answers carry beside their body, by status: what a client reads there
#: (exposed to apps on other origins by `CORS_EXPOSE_HEADERS`).
RESPONSE_HEADERS: dict[str, dict[str, Any]] = {
    "201": {
        "Location": {
            "description": "The flow's URL (`/api/pipelines/{id}/`).",
            "schema": {"type": "string"},
        }
    },
    "302": {
        "Location": {
            "description": "Where the browser goes on: the flow's `return_to` (or the"
            " frontend's URL) with `pipeline=<id>` when the state names a flow of this"
            " client's, and `error=<code>` when refused.",
            "schema": {"type": "string"},
        }
    },
    "401": {
        "WWW-Authenticate": {
            "description": "`Token`: the scheme `Authorization` takes.",
            "schema": {"type": "string"},
        }
    },
    "429": {
        "Retry-After": {
            "description": "Seconds to wait before trying again, with `throttled`;"
            " `too_many_flows` carries none (finish or cancel a flow first).",
            "schema": {"type": "integer", "minimum": 0},
        }
    },
    "503": {
        "Retry-After": {
            "description": "Seconds to wait before trying again.",
            "schema": {"type": "integer", "minimum": 0},
        }
    },
}


def document_headers(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """A drf-spectacular postprocessing hook: the headers each documented status carries."""
    for path in result.get("paths", {}).values():
        for operation in path.values():
            for status, response in operation.get("responses", {}).items():
                if status in RESPONSE_HEADERS:
                    response.setdefault("headers", {}).update(RESPONSE_HEADERS[status])
    return result
