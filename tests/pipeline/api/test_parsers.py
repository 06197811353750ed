"""The JSON parser: reads at most the configured size, and never fails with a 500."""

import io
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.exceptions import ParseError

from backend.pipeline.api.parsers import LimitedJSONParser
from backend.pipeline.errors import PayloadTooLarge


class CountingStream(io.BytesIO):
    """A stream that remembers how many bytes were asked of it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.asked = 0

    def read(self, size: int | None = -1, /) -> bytes:
        chunk = super().read(size)
        self.asked += len(chunk)
        return chunk


def parse(data: bytes) -> Any:
    return LimitedJSONParser().parse(io.BytesIO(data), "application/json", {})


def test_parses_a_json_object() -> None:
    assert parse(b'{"version": 1, "data": {"a": [1, 2]}}') == {"version": 1, "data": {"a": [1, 2]}}


def test_parses_unicode_text() -> None:
    assert parse('{"name": "Åda \U0001f600"}'.encode()) == {"name": "Åda \U0001f600"}


@override_settings(PIPELINE_MAX_BODY_SIZE=16)
def test_a_body_of_exactly_the_limit_is_parsed() -> None:
    body = b'{"a": "0123456"}'
    assert len(body) == 16
    assert parse(body) == {"a": "0123456"}


@override_settings(PIPELINE_MAX_BODY_SIZE=16)
def test_a_body_one_byte_over_the_limit_is_too_large() -> None:
    with pytest.raises(PayloadTooLarge):
        parse(b'{"a": "01234567"}')


@override_settings(PIPELINE_MAX_BODY_SIZE=1024)
def test_a_stream_without_declared_length_is_read_no_further_than_the_limit() -> None:
    stream = CountingStream(b'{"a": "' + b"x" * 10_000_000 + b'"}')
    with pytest.raises(PayloadTooLarge):
        LimitedJSONParser().parse(stream, "application/json", {})
    assert stream.asked == 1025


def test_too_large_is_answered_413() -> None:
    assert PayloadTooLarge.status_code == 413
    assert PayloadTooLarge.default_code == "payload_too_large"


@pytest.mark.parametrize("depth", [5_000, 30_000])
def test_nesting_too_deep_for_the_decoder_is_a_parse_error(depth: int) -> None:
    with pytest.raises(ParseError, match="nested too deeply"):
        parse(b"[" * depth + b"]" * depth)


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
def test_non_finite_literals_are_a_parse_error(literal: bytes) -> None:
    with pytest.raises(ParseError):
        parse(b'{"version": ' + literal + b"}")


@pytest.mark.parametrize("body", [b"", b"{", b"\xff", b"{'a': 1}", b'{"a": 1} x'])
def test_malformed_json_is_a_parse_error(body: bytes) -> None:
    with pytest.raises(ParseError):
        parse(body)


def test_a_number_with_too_many_digits_is_a_parse_error_told_in_our_words() -> None:
    assert parse(b'{"version": ' + b"9" * 4300 + b"}")["version"] == int("9" * 4300)
    with pytest.raises(ParseError) as refused:
        parse(b'{"version": ' + b"9" * 4301 + b"}")
    assert str(refused.value.detail) == "JSON parse error - number with too many digits"
