"""A JSON parser that reads no more than the configured body size."""

import json
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework.exceptions import ParseError, UnsupportedMediaType
from rest_framework.parsers import JSONParser

from ..conf import conf
from ..errors import PayloadTooLarge


class LimitedJSONParser(JSONParser):
    """JSON, at most `PIPELINE_MAX_BODY_SIZE` bytes, never a server error.

    The limit is enforced on the bytes read, not on a Content-Length a
    client may leave out. Only what can be sent back is accepted: no NaN
    or Infinity (nor numbers too large for a float), no lone surrogates,
    no nesting deep enough to exhaust the decoder. An answer may echo the
    input (a form shown again with its errors), and must always render.
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
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = raw.decode(encoding)
            value = json.loads(text, parse_constant=_refuse, parse_float=_finite, parse_int=_whole)
            # Lone surrogates (from \ud800 escapes) cannot be encoded back.
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except LookupError:
            # Django takes any codec Python has as a charset, rot13 and zlib
            # included; only a text encoding can carry JSON.
            raise UnsupportedMediaType(
                media_type or "", detail=f'Unsupported charset "{encoding}" in request.'
            ) from None
        except (ValueError, UnicodeError, RecursionError) as exc:
            raise ParseError(f"JSON parse error - {_reason(exc)}") from None
        return value


def _refuse(constant: str) -> Any:
    raise ValueError(f"{constant} is not valid JSON")


def _finite(literal: str) -> float:
    number = float(literal)
    if number in (float("inf"), float("-inf")):
        raise ValueError("number too large")
    return number


def _whole(literal: str) -> int:
    try:
        return int(literal)
    except ValueError:  # past Python's limit on the digits it converts (4,300)
        raise ValueError("number with too many digits") from None


def _reason(exc: Exception) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if isinstance(exc, UnicodeError):
        return "text that is not valid Unicode"
    return str(exc)
