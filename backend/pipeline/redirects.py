"""Where a browser may be sent: no open redirects."""

import unicodedata
from collections.abc import Iterable
from urllib.parse import urlsplit

from django.utils.http import url_has_allowed_host_and_scheme

from .conf import conf


def is_allowed_target(url: str, also: Iterable[str] = ()) -> bool:
    """A path of ours, or a URL on `PIPELINE_RETURN_TO_ORIGINS` (or an origin in `also`).

    A path starts at the root: a relative one (`done/`, `?tab=a`, `#top`)
    would be read against the URL of the callback that redirects to it.
    Django's own check catches the tricks (`//host`, `\\\\host`, schemes other
    than http and https, a control character in front); the origin must
    then match one listed exactly, scheme and port included. A control
    character anywhere is refused too: a browser drops a tab or a line
    break, so the address it goes to is not the one that was checked.
    """
    if any(unicodedata.category(char) == "Cc" for char in url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed IPv6 bracket: no URL at all
        return False
    if not (parts.scheme or parts.netloc):
        return url.startswith("/") and url_has_allowed_host_and_scheme(url, allowed_hosts=None)
    origin = f"{parts.scheme}://{parts.netloc}"
    return origin in {*conf.RETURN_TO_ORIGINS, *also} and url_has_allowed_host_and_scheme(
        url, allowed_hosts={parts.netloc}
    )
