import pytest
from django.test import override_settings

from backend.pipeline.redirects import is_allowed_target

ALLOWED = ["https://app.example.com"]


@pytest.mark.parametrize(
    "url",
    ["/", "/app/flows?tab=a", "https://app.example.com/done", "https://app.example.com"],
)
def test_paths_and_urls_on_an_allowed_origin_are_allowed(url: str) -> None:
    with override_settings(PIPELINE_RETURN_TO_ORIGINS=ALLOWED):
        assert is_allowed_target(url)


@pytest.mark.parametrize(
    "url",
    [
        "//evil.test/",
        "/\\evil.test/",
        "https://evil.test/",
        "http://app.example.com/",  # another scheme is another origin
        "https://app.example.com:8443/",  # and so is another port
        "https://app.example.com.evil.test/",
        "javascript:alert(1)",
        "https://app.example.com\n.evil.test/",
        "http://[",
        "https://app.example.com]/",
        "//[x",
        "/\tevil",  # a control character, anywhere: a browser drops it
        "/x\r\nSet-Cookie: a=b",
        "/done\x00",
        "https://app.example.com/\x7f",
        "done/",  # read against the callback's own URL
        "?tab=a",
        "#top",
        "",
    ],
)
def test_anything_else_is_refused(url: str) -> None:
    with override_settings(PIPELINE_RETURN_TO_ORIGINS=ALLOWED):
        assert not is_allowed_target(url)


def test_an_origin_given_for_one_call_is_allowed_for_that_call_only() -> None:
    with override_settings(PIPELINE_RETURN_TO_ORIGINS=[]):
        assert is_allowed_target("http://testserver/x", also=["http://testserver"])
        assert not is_allowed_target("http://testserver/x")
