"""The API answers JSON, whatever the client's Accept header says.

The protocol (`backend/pipeline/README.md`) makes every body JSON, so
there is nothing to negotiate. A browser following a redirect to the
callback sends `Accept: text/html`; it must get its 302, not a 406.
"""

from collections.abc import Iterable

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request


class JSONOnlyNegotiation(DefaultContentNegotiation):
    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type
