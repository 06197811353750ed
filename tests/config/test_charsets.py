"""A charset Django cannot decode with never reaches it through the project's entry points."""

import asyncio
import io
import json
from typing import Any

import pytest

from backend.config.asgi import application as asgi_application
from backend.config.charsets import readable_content_type, usable_charset
from backend.config.wsgi import application as wsgi_application

pytestmark = pytest.mark.django_db

#: Charsets Python has a codec for, with which Django fails to build a request.
UNUSABLE = ["rot13", "zlib", "bz2", "hex", "base64", "uu", "quopri", "punycode", "idna"]


@pytest.mark.parametrize("name", ["utf-8", "UTF-8", "latin-1", "utf-16", "cp1252", "shift_jis"])
def test_text_encodings_are_usable(name: str) -> None:
    assert usable_charset(name)


@pytest.mark.parametrize("name", [*UNUSABLE, "no-such-charset", ""])
def test_codecs_django_cannot_decode_with_are_not(name: str) -> None:
    assert not usable_charset(name)


def test_only_an_unusable_charset_is_dropped_from_a_content_type() -> None:
    assert readable_content_type("application/json; charset=utf-8") == (
        "application/json; charset=utf-8"
    )
    assert readable_content_type("application/json") == "application/json"
    assert readable_content_type("text/plain; charset=rot13") == "text/plain"
    assert readable_content_type('multipart/form-data; charset=zlib; boundary="a\\"b"') == (
        'multipart/form-data; boundary="a\\"b"'
    )


#: A form posted to a page of Django's own, which reads it for the CSRF token.
FORM = b'--XyZ\r\nContent-Disposition: form-data; name="username"\r\n\r\nada\r\n--XyZ--\r\n'
FORM_PATH = "/accounts/login/"
#: A CSRF cookie, so that Django goes on to read the form for the token that matches it.
COOKIE = "csrftoken=" + "a" * 32


def _over_wsgi(
    method: str, path: str, query: str, content_type: str, body: bytes
) -> tuple[int, bytes]:
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(body)),
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "HTTP_HOST": "testserver",
        "HTTP_COOKIE": COOKIE,
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
    }
    started: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        started.append(status)

    answer = b"".join(wsgi_application(environ, start_response))
    return int(started[0].split()[0]), answer


def _over_asgi(
    method: str, path: str, query: str, content_type: str, body: bytes
) -> tuple[int, bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"cookie", COOKIE.encode()),
            (b"content-type", content_type.encode()),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    sent: list[dict[str, Any]] = []
    bodies = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        if bodies:
            return bodies.pop()
        await asyncio.Future()  # the client stays until the answer is sent
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(asgi_application(scope, receive, send))
    return sent[0]["status"], b"".join(message.get("body", b"") for message in sent[1:])


@pytest.mark.parametrize("charset", UNUSABLE)
def test_a_query_string_with_an_unusable_charset_is_answered_over_wsgi(charset: str) -> None:
    status, body = _over_wsgi(
        "GET", "/api/auth/me/", "a=1&b=%00%ff", f"text/plain; charset={charset}", b""
    )
    assert status == 200
    assert json.loads(body)["authenticated"] is False


@pytest.mark.parametrize("serve", [_over_wsgi, _over_asgi], ids=["wsgi", "asgi"])
@pytest.mark.parametrize("charset", ["rot13", "zlib", "hex"])
def test_a_form_in_an_unusable_charset_is_read_as_utf8(serve: Any, charset: str) -> None:
    content_type = f"multipart/form-data; boundary=XyZ; charset={charset}"
    status, _body = serve("POST", FORM_PATH, "", content_type, FORM)
    assert status == 403  # read, and refused for want of the token in the form
