from typing import Any

from django.contrib.auth.models import AnonymousUser
from rest_framework.authentication import BaseAuthentication
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from backend.pipeline.requests import display_request, query_request, submission_request


def _request() -> Request:
    raw = APIRequestFactory().post("/x/?code=abc", {"version": 1, "data": {"a": 1}}, format="json")
    request = Request(raw, parsers=[JSONParser()])
    request.user = None  # type: ignore[assignment]
    return request


def test_display_request_is_a_get_without_body_or_query() -> None:
    shown = display_request(_request())
    assert shown.method == "GET"
    assert shown.data == {}
    assert dict(shown.query_params) == {}


def test_submission_request_carries_only_the_step_data() -> None:
    submitted = submission_request(_request(), {"email": "a@example.com"})
    assert submitted.method == "POST"
    assert submitted.data == {"email": "a@example.com"}
    assert dict(submitted.query_params) == {}


def test_query_request_keeps_the_query_string_only() -> None:
    returned = query_request(_request())
    assert returned.method == "GET"
    assert returned.data == {}
    assert returned.query_params["code"] == "abc"


def test_derived_requests_leave_the_original_untouched() -> None:
    original = _request()
    display_request(original)
    assert original.method == "POST"
    assert original.data == {"version": 1, "data": {"a": 1}}


def test_one_display_request_serves_every_step_shown_in_one_http_request() -> None:
    original = _request()
    shown = display_request(original)
    submitted = submission_request(original, {"email": "a@example.com"})
    assert display_request(original) is shown
    assert display_request(submitted) is shown
    assert display_request(shown) is shown
    assert display_request(_request()) is not shown


class _CountingAuthentication(BaseAuthentication):
    def __init__(self) -> None:
        self.calls = 0

    def authenticate(self, request: Any) -> None:
        self.calls += 1


def test_deriving_a_request_leaves_authentication_until_the_user_is_asked_for() -> None:
    authentication = _CountingAuthentication()
    raw = APIRequestFactory().post("/x/", {"version": 1, "data": {}}, format="json")
    request = Request(raw, parsers=[JSONParser()], authenticators=[authentication])

    shown = display_request(request)
    submission_request(request, {"email": "a@example.com"})
    assert authentication.calls == 0

    assert isinstance(shown.user, AnonymousUser)
    assert authentication.calls == 1


def test_derived_requests_share_the_user_of_an_authenticated_request() -> None:
    original = _request()
    user = AnonymousUser()
    original.user = user
    assert display_request(original).user is user
    assert submission_request(original, {}).user is user
