"""Serves `frontend_stub/` same-origin, so `make run` needs no other server."""

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest
from django.views.static import serve

FRONTEND_DIR = settings.BASE_DIR / "frontend_stub"


#: Served by the API's own origin, the app talks to that origin alone. Its
#: `?api=` (for an app served elsewhere, such as a dev server) could
#: otherwise point the genuine page at another site, which would then
#: receive what the user types into it, a password included.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "connect-src 'self'",
        "img-src 'self' data:",  # the page's empty icon
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def frontend(request: HttpRequest, path: str) -> FileResponse:
    """A file of the app, or its index.html for any other path (client routing).

    A path no file can have (a NUL character in it, a name longer than the
    file system allows) is one of the app's routes too.
    """
    if path and "\x00" not in path and _is_file_of_the_app(path):
        response = serve(request, path, document_root=str(FRONTEND_DIR))
    else:
        index = FRONTEND_DIR / "index.html"
        if not index.is_file():
            raise Http404("frontend_stub/index.html is missing")
        response = FileResponse(index.open("rb"), content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response


def _is_file_of_the_app(path: str) -> bool:
    try:
        target = (FRONTEND_DIR / path).resolve()
        return target.is_relative_to(FRONTEND_DIR.resolve()) and target.is_file()
    except OSError:  # a name too long, say: no file of ours
        return False
