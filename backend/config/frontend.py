"""Serves `frontend_stub/` same-origin, so `make run` needs no other server."""

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest
from django.views.static import serve

FRONTEND_DIR = settings.BASE_DIR / "frontend_stub"


def frontend(request: HttpRequest, path: str) -> FileResponse:
    """A file of the app, or its index.html for any other path (client routing).

    A path no file can have (a NUL character in it) is one of the app's routes too.
    """
    if path and "\x00" not in path and _is_file_of_the_app(path):
        return serve(request, path, document_root=str(FRONTEND_DIR))
    index = FRONTEND_DIR / "index.html"
    if not index.is_file():
        raise Http404("frontend_stub/index.html is missing")
    return FileResponse(index.open("rb"), content_type="text/html; charset=utf-8")


def _is_file_of_the_app(path: str) -> bool:
    target = (FRONTEND_DIR / path).resolve()
    return target.is_relative_to(FRONTEND_DIR.resolve()) and target.is_file()
