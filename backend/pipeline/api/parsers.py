"""A JSON parser that reads no more than the configured body size."""

import io
from collections.abc import Mapping
from typing import IO, Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from ..conf import conf
from ..errors import PayloadTooLarge


class LimitedJSONParser(JSONParser):
    """JSON, at most `PIPELINE_MAX_BODY_SIZE` bytes, never a server error.

    The limit is enforced on the bytes read, not on a Content-Length a
    client may leave out; nesting deep enough to exhaust the decoder is a
    parse error like any other.
    """

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        limit = conf.MAX_BODY_SIZE
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge()
        try:
            return super().parse(io.BytesIO(raw), media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply") from None
