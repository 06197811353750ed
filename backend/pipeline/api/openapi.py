"""The OpenAPI document's view: the document in the format asked for, errors in JSON."""

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


class SchemaView(SpectacularAPIView):
    """The document alone is offered in several formats (`?format=yaml`).

    An error (a bad `Authorization` header, a POST) is the API's error
    envelope in JSON, as everywhere under /api/, whatever format was
    asked for the document.
    """

    renderer_classes = [OpenApiJsonRenderer, OpenApiJsonRenderer2, OpenApiYamlRenderer]
    content_negotiation_class = DefaultContentNegotiation
    http_method_names = HTTP_METHODS

    def handle_exception(self, exc: Exception) -> Response:
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)
