"""Hostile input: always a 4xx JSON answer, never a 500, never a corrupted flow.

Every test sends something a client should not, to a flow at its second
step (company, version 2), and checks that the answer is a JSON client
error and that a fresh GET still shows the flow where it was.
"""

import json
from typing import Any

import pytest
from django.test import override_settings

from backend.pipeline.models import Flow
from tests.conftest import COMPANY, PROFILE, FlowClient

from .conftest import (
    API,
    Response,
    back_url,
    error_of,
    flow_url,
    position,
    post_raw,
    script_client,
)

CLIENT_ERRORS = {400, 404, 405, 406, 413, 415}
#: A multipart form with one field, `version`.
MULTIPART_FORM = '--XyZ\r\nContent-Disposition: form-data; name="version"\r\n\r\n2\r\n--XyZ--\r\n'


def _refused_cleanly(response: Response, client: FlowClient, flow: dict[str, Any]) -> None:
    assert response.status_code in CLIENT_ERRORS, response.content[:500]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert isinstance(body, dict)
    if "error" in body:
        error_of(response)
    else:
        assert body["id"] == flow["id"]
        assert body["errors"]
    assert position(client, flow["id"]) == (flow["step"]["name"], flow["step"]["version"])


# -- bodies that are not JSON, or not JSON we take --------------------------------------------

BAD_JSON = [
    "{",
    '{"version": 2, "data": {}',
    '{"version": 2,}',
    "{'version': 2}",
    '{"version": 2} {"version": 3}',
    '{"version": 2, "data": {"company": undefined}}',
    '{"version": 2, "data": {"company": "unterminated}}',
    '{"version": 0x2}',
    '{"version": 02}',
    "\x00",
    "\ufeff{}",
    '{"version": NaN, "data": {}}',
    '{"version": 2, "data": {"company": Infinity, "size": "m"}}',
    '{"version": 2, "data": {"company": -Infinity, "size": "m"}}',
    '{"version": 1' + "0" * 5000 + ', "data": {}}',
    # Would be echoed back in form.data, and cannot be rendered as JSON:
    '{"version": 2, "data": {"company": 1e400, "size": "m"}}',
    '{"version": 2, "data": {"company": "\\ud800", "size": "m"}}',
    '{"version": 2, "data": {"company": "x\\udfff", "size": "m"}}',
]


@pytest.mark.parametrize("body", BAD_JSON)
def test_bad_json_returns_400_parse_error(
    client: FlowClient, at_company: dict[str, Any], body: str
) -> None:
    response = post_raw(client, flow_url(at_company["id"]), body)
    _refused_cleanly(response, client, at_company)
    assert response.status_code == 400
    assert error_of(response)["code"] == "parse_error"


def test_bytes_that_are_not_utf8_return_400_parse_error(
    client: FlowClient, at_company: dict[str, Any]
) -> None:
    body = b'{"version": 2, "data": {"company": "\xff\xfe", "size": "m"}}'
    response = post_raw(client, flow_url(at_company["id"]), body)
    _refused_cleanly(response, client, at_company)
    assert error_of(response)["code"] == "parse_error"


@pytest.mark.parametrize("body", ["", "null", "[]", "[1, 2]", '"text"', "12", "true"])
def test_json_that_is_not_an_object_returns_400_invalid_request(
    client: FlowClient, at_company: dict[str, Any], body: str
) -> None:
    response = post_raw(client, flow_url(at_company["id"]), body)
    _refused_cleanly(response, client, at_company)
    assert error_of(response)["code"] == "invalid_request"


def test_json_nested_100000_deep_is_refused(
    client: FlowClient, at_company: dict[str, Any]
) -> None:
    body = '{"version": 2, "data": ' + '{"a": ' * 100_000 + "1" + "}" * 100_001
    response = post_raw(client, flow_url(at_company["id"]), body)
    _refused_cleanly(response, client, at_company)
    assert error_of(response)["code"] == "payload_too_large"


@override_settings(PIPELINE_MAX_BODY_SIZE=2**20)
def test_json_nested_100000_deep_within_the_size_limit_returns_400_parse_error(
    client: FlowClient, at_company: dict[str, Any]
) -> None:
    body = '{"version": 2, "data": ' + '{"a": ' * 100_000 + "1" + "}" * 100_001
    response = post_raw(client, flow_url(at_company["id"]), body)
    _refused_cleanly(response, client, at_company)
    assert error_of(response)["code"] == "parse_error"


def test_json_arrays_nested_30000_deep_return_400_parse_error(
    client: FlowClient, at_company: dict[str, Any]
) -> None:
    body = '{"version": 2, "data": {"company": ' + "[" * 30_000 + "]" * 30_000 + "}}"
    response = post_raw(client, flow_url(at_company["id"]), body)
    _refused_cleanly(response, client, at_company)
    assert error_of(response)["code"] == "parse_error"


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", "version=2&data=%7B%7D"),
        ("multipart/form-data; boundary=XyZ", MULTIPART_FORM),
        ("text/plain", '{"version": 2, "data": {}}'),
        ("application/xml", "<version>2</version>"),
        ("application/octet-stream", "\x00\x01\x02"),
    ],
)
def test_a_body_that_is_not_json_is_refused_with_an_envelope(
    client: FlowClient, at_company: dict[str, Any], content_type: str, body: str
) -> None:
    response = post_raw(client, flow_url(at_company["id"]), body, content_type=content_type)
    _refused_cleanly(response, client, at_company)
    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"


def test_a_form_encoded_body_with_a_header_token_returns_415(started: dict[str, Any]) -> None:
    response = script_client().post(
        flow_url(started["id"]),
        "version=1",
        content_type="application/x-www-form-urlencoded",
        HTTP_X_PIPELINE_TOKEN=started["token"],
    )
    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"


# -- odd but valid JSON -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "company",
    [
        [1, 2],
        {"name": "Analytical Engines"},
        None,
        True,
        "",
        "x" * 101,
        "Nul\x00Byte",
        [[[[[[[[[[]]]]]]]]]],
    ],
    ids=repr,
)
def test_a_wrong_value_for_a_text_field_returns_400_with_the_same_step(
    client: FlowClient, at_company: dict[str, Any], company: Any
) -> None:
    response = client.submit(at_company, {"company": company, "size": "m"})
    _refused_cleanly(response, client, at_company)
    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == ["company"]


@pytest.mark.parametrize(
    "size", ["xl", "M", " m", "", None, 1, ["m"], {"m": True}, True], ids=repr
)
def test_a_wrong_value_for_a_choice_field_returns_400_with_the_same_step(
    client: FlowClient, at_company: dict[str, Any], size: Any
) -> None:
    response = client.submit(at_company, {"company": "Analytical Engines", "size": size})
    _refused_cleanly(response, client, at_company)
    assert [error["field"] for error in response.json()["errors"]] == ["size"]


@pytest.mark.parametrize("accept", [None, "false", 0, "no", [], {}, "maybe", 2])
def test_a_wrong_value_for_a_boolean_field_returns_400_with_the_same_step(
    client: FlowClient, at_confirm: dict[str, Any], accept: Any
) -> None:
    response = client.submit(at_confirm, {"accept": accept})
    _refused_cleanly(response, client, at_confirm)
    assert [error["field"] for error in response.json()["errors"]] == ["accept"]


@pytest.mark.parametrize(
    "body",
    [
        {"version": 2, "data": {"company": "x", "size": "xl"}, "extra": "ignored"},
        {"version": "1" + "0" * 5000, "data": COMPANY},
        {"version": {"$gt": 0}, "data": COMPANY},
        {"version": 2, "data": {"": "", "__proto__": {"admin": True}}},
        {"version": 2, "data": {f"key{i}": i for i in range(3000)}},
        {"version": 2, "data": {"k" * 10_000: "v"}},
    ],
    ids=["extra-key", "huge-version-string", "operator", "proto", "many-keys", "long-key"],
)
def test_odd_but_valid_json_is_refused_without_moving_the_flow(
    client: FlowClient, at_company: dict[str, Any], body: dict[str, Any]
) -> None:
    response = client.post(flow_url(at_company["id"]), body)
    _refused_cleanly(response, client, at_company)


def test_duplicate_keys_take_the_last_value(
    client: FlowClient, at_company: dict[str, Any]
) -> None:
    body = '{"version": 2, "data": {"company": "X", "size": "m", "size": "xl"}}'
    response = post_raw(client, flow_url(at_company["id"]), body)
    _refused_cleanly(response, client, at_company)
    assert response.json()["form"]["data"] == {"company": "X", "size": "xl"}


def test_a_megabyte_string_within_a_raised_limit_returns_400_with_the_same_step(
    client: FlowClient, at_company: dict[str, Any]
) -> None:
    with override_settings(PIPELINE_MAX_BODY_SIZE=4 * 2**20):
        response = client.submit(at_company, {"company": "x" * 2**20, "size": "m"})
    _refused_cleanly(response, client, at_company)
    assert response.json()["errors"][0]["code"] == "max_length"


def test_undeclared_keys_are_neither_bound_nor_echoed(
    client: FlowClient, at_company: dict[str, Any]
) -> None:
    sent = {**COMPANY, "is_staff": True, "profile": {"email": "eve@example.com"}}
    moved = client.submit(at_company, sent).json()
    assert moved["step"]["name"] == "confirm"
    back = client.back(moved).json()
    assert back["form"]["data"] == COMPANY
    profile = client.back(back).json()
    assert profile["form"]["data"] == PROFILE


# -- strings are data, never markup -----------------------------------------------------------

MARKUP = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "{{ 7*7 }}",
    "${7*7}",
    "'; DROP TABLE pipeline_flow; --",
    "&lt;b&gt;",
]


@pytest.mark.parametrize("text", MARKUP)
def test_markup_in_a_refused_submission_comes_back_as_plain_data(
    client: FlowClient, at_company: dict[str, Any], text: str
) -> None:
    response = client.submit(at_company, {"company": text, "size": text})
    _refused_cleanly(response, client, at_company)
    assert response.json()["form"]["data"] == {"company": text, "size": text}


@pytest.mark.parametrize("text", MARKUP)
def test_markup_in_a_bound_value_comes_back_as_plain_data(
    client: FlowClient, at_company: dict[str, Any], text: str
) -> None:
    moved = client.submit(at_company, {"company": text, "size": "s"}).json()
    assert client.back(moved).json()["form"]["data"] == {"company": text, "size": "s"}


@pytest.mark.parametrize(
    "text",
    [
        "Ada Lovelace \U0001f600",
        "\u202eevil\u202c",
        "e\u0301\u0301\u0301",
        "\u4e2d\u6587\u540d\u5b57",
        "tab\tnew\nline",
        "a\u2028b\u2029c",
        "\ufeffbom",
    ],
    ids=repr,
)
def test_unicode_round_trips_exactly(
    client: FlowClient, at_company: dict[str, Any], text: str
) -> None:
    moved = client.submit(at_company, {"company": text, "size": "l"})
    assert moved.status_code == 200
    assert client.back(moved.json()).json()["form"]["data"]["company"] == text


def test_nul_characters_are_refused(client: FlowClient, at_company: dict[str, Any]) -> None:
    response = client.submit(at_company, {"company": "A\x00B", "size": "m"})
    _refused_cleanly(response, client, at_company)
    assert response.json()["errors"][0]["code"] == "null_characters_not_allowed"


# -- methods, media types, paths --------------------------------------------------------------


@pytest.mark.parametrize("method", ["PUT", "PATCH", "TRACE", "FOO", "OPTIONS"])
def test_an_unknown_method_on_a_flow_returns_405_envelope(
    client: FlowClient, at_company: dict[str, Any], method: str
) -> None:
    response = client.raw.generic(
        method,
        flow_url(at_company["id"]),
        json.dumps({"version": 2, "data": COMPANY}),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=client.csrf_token,
    )
    _refused_cleanly(response, client, at_company)
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", API),
        ("DELETE", API),
        ("PATCH", API),
        ("GET", "back/"),
        ("DELETE", "back/"),
        ("PUT", "back/"),
        ("POST", f"{API}callback/"),
        ("OPTIONS", API),
        ("OPTIONS", "back/"),
        ("OPTIONS", f"{API}callback/"),
        ("OPTIONS", "/api/auth/me/"),
        ("OPTIONS", "/api/auth/login/"),
        ("OPTIONS", "/api/auth/csrf/"),
        ("OPTIONS", "/api/schema/"),
    ],
)
def test_a_method_a_route_does_not_take_returns_405_envelope(
    client: FlowClient, at_company: dict[str, Any], method: str, path: str
) -> None:
    if path == "back/":
        path = back_url(at_company["id"])
    response = client.raw.generic(
        method, path, "{}", content_type="application/json", HTTP_X_CSRFTOKEN=client.csrf_token
    )
    _refused_cleanly(response, client, at_company)
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"
    assert method not in response["Allow"].split(", ")


@pytest.mark.parametrize("accept", ["application/xml", "text/html", "image/png", "*/*", ""])
def test_the_api_answers_json_whatever_the_accept_header_asks(
    client: FlowClient, at_company: dict[str, Any], accept: str
) -> None:
    response = client.get(flow_url(at_company["id"]), HTTP_ACCEPT=accept)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json()["id"] == at_company["id"]


def test_a_format_parameter_changes_nothing(
    client: FlowClient, at_company: dict[str, Any]
) -> None:
    response = client.get(flow_url(at_company["id"]) + "?format=xml")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    "path",
    [
        f"{API}a%2Fb/",
        f"{API}x/y/z/",
        "/api/nope/",
        "/api/pipelines",
    ],
)
def test_a_path_no_view_takes_returns_a_404_envelope(client: FlowClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404  # never a redirect, not even to add a slash
    assert error_of(response)["code"] in ("not_found", "pipeline_not_found")


@pytest.mark.parametrize(
    "flow_id", ["0" * 32, "g" * 32, "-1", "null", "undefined", "%20", "a" * 5000, "\u0000"]
)
def test_submitting_to_an_unknown_id_returns_404_pipeline_not_found(
    client: FlowClient, flow_id: str
) -> None:
    response = client.post(flow_url(flow_id), {"version": 1, "data": PROFILE})
    assert response.status_code == 404
    assert error_of(response)["code"] == "pipeline_not_found"


def test_a_huge_flow_token_header_returns_404(started: dict[str, Any]) -> None:
    response = script_client().get(flow_url(started["id"]), HTTP_X_PIPELINE_TOKEN="t" * 8000)
    assert response.status_code == 404


# -- hostile starts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        '{"pipeline": "onboarding", "provider": "default", "initial_data": NaN}',
        '{"pipeline": ["onboarding"], "provider": "default"}',
        '{"pipeline": {"$ne": null}, "provider": "default"}',
        '{"pipeline": "onboarding", "provider": null}',
        '{"pipeline": "onboarding", "provider": "default", "return_to": ["/"]}',
        '{"pipeline": "onboarding", "provider": "default", "return_to": "' + "/" * 3000 + '"}',
        '{"pipeline": "onboarding", "provider": "default", "initial_data": {"email": [1]}}',
        '{"pipeline": "onboarding\\u0000", "provider": "default"}',
        "[]",
    ],
)
def test_a_hostile_start_returns_a_400_envelope_and_starts_nothing(
    client: FlowClient, body: str
) -> None:
    response = post_raw(client, API, body)
    assert response.status_code == 400
    assert error_of(response)["code"] in ("parse_error", "invalid_request", "invalid_return_to")
    assert not Flow.objects.exists()


@pytest.mark.parametrize("pipeline", ["__init__", "Pipeline", "ONBOARDING", "onboarding/default"])
def test_a_start_of_a_pipeline_by_another_spelling_returns_404(
    client: FlowClient, pipeline: str
) -> None:
    response = client.start(pipeline)
    assert response.status_code == 404
    assert error_of(response)["code"] == "unknown_pipeline"


# -- bodies Django cannot read -----------------------------------------------------------------


@pytest.mark.parametrize("charset", ["rot13", "zlib", "bz2", "hex", "base64", "uu", "quopri"])
@pytest.mark.parametrize("by_token", [False, True], ids=["session", "token"])
def test_json_in_a_charset_that_is_not_text_returns_415(
    client: FlowClient,
    started: dict[str, Any],
    at_company: dict[str, Any],
    charset: str,
    by_token: bool,
) -> None:
    body = json.dumps({"version": 2, "data": COMPANY})
    content_type = f"application/json; charset={charset}"
    if by_token:
        response = script_client().post(
            flow_url(at_company["id"]),
            body,
            content_type=content_type,
            HTTP_X_PIPELINE_TOKEN=started["token"],
        )
    else:
        response = post_raw(client, flow_url(at_company["id"]), body, content_type=content_type)
    _refused_cleanly(response, client, at_company)
    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"


@pytest.mark.parametrize("charset", ["punycode", "undefined"])
def test_json_in_a_charset_that_cannot_decode_it_returns_400_parse_error(
    client: FlowClient, at_company: dict[str, Any], charset: str
) -> None:
    body = json.dumps({"version": 2, "data": COMPANY})
    content_type = f"application/json; charset={charset}"
    response = post_raw(client, flow_url(at_company["id"]), body, content_type=content_type)
    _refused_cleanly(response, client, at_company)
    assert error_of(response)["code"] == "parse_error"


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data; boundary=XyZ; charset=rot13", MULTIPART_FORM),
        ("multipart/form-data; boundary=XyZ; charset=zlib", MULTIPART_FORM),
        ("multipart/form-data", "--XyZ--\r\n"),
        ("application/x-www-form-urlencoded; charset=rot13", "version=2&data=%7B%7D"),
    ],
)
def test_a_form_django_cannot_read_returns_400_parse_error(
    client: FlowClient, at_company: dict[str, Any], content_type: str, body: str
) -> None:
    response = post_raw(client, flow_url(at_company["id"]), body, content_type=content_type)
    _refused_cleanly(response, client, at_company)
    assert error_of(response)["code"] == "parse_error"


@pytest.mark.parametrize("length", ["abc", "-1x", "1e3"])
def test_a_content_length_that_is_not_a_number_returns_400(
    client: FlowClient, at_company: dict[str, Any], length: str
) -> None:
    body = json.dumps({"version": 2, "data": COMPANY})
    response = client.raw.post(
        flow_url(at_company["id"]),
        body,
        content_type="application/json",
        HTTP_X_CSRFTOKEN=client.csrf_token,
        CONTENT_LENGTH=length,
    )
    _refused_cleanly(response, client, at_company)
    assert response.status_code == 400
