"""Requests in a charset Django cannot decode with are read as if they named none.

Django accepts as a request's charset any codec Python has, rot13, zlib
and punycode included. Over WSGI it decodes the query string with it
while it builds the request, before any middleware or error handler
runs: `GET /api/auth/me/?a=1` with `Content-Type: text/plain;
charset=rot13` escapes Django altogether, and the server answers its own
500. Over either protocol, a page of Django's own that reads a posted
form with it (the CSRF check does) fails with a 500. Django already
ignores a charset it does not know; the entry points below drop one it
cannot use in the same way, before Django sees it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.utils.http import parse_header_parameters

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
ASGIApp = Callable[[dict[str, Any], Any, Any], Any]


def usable_charset(name: str) -> bool:
    """Whether Django can decode a query string or a form field with `name`.

    It decodes them with `errors="replace"`: a codec that is not a text
    encoding refuses that call, and so does one (punycode, idna) that
    cannot replace what it fails to decode.
    """
    try:
        b"\xff".decode(name, "replace")
    except (LookupError, ValueError):
        return False
    return True


def readable_content_type(value: str) -> str:
    """`value` without its charset if Django could not decode with it; else `value`."""
    media_type, params = parse_header_parameters(value)
    charset = params.get("charset")
    if charset is None or usable_charset(charset):
        return value
    kept = (f'{key}="{_quoted(param)}"' for key, param in params.items() if key != "charset")
    return "; ".join([media_type, *kept])


def guard_wsgi(app: WSGIApp) -> WSGIApp:
    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        content_type = environ.get("CONTENT_TYPE")
        if content_type:
            environ["CONTENT_TYPE"] = readable_content_type(content_type)
        return app(environ, start_response)

    return application


def guard_asgi(app: ASGIApp) -> ASGIApp:
    async def application(scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope.get("type") == "http":
            headers = [
                (name, _readable_header(value) if name.lower() == b"content-type" else value)
                for name, value in scope.get("headers", [])
            ]
            scope = {**scope, "headers": headers}
        return await app(scope, receive, send)

    return application


def _readable_header(value: bytes) -> bytes:
    return readable_content_type(value.decode("latin-1")).encode("latin-1")


def _quoted(param: str) -> str:
    return param.replace("\\", "\\\\").replace('"', '\\"')
