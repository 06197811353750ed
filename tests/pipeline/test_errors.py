from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from backend.pipeline.errors import flatten_errors


class Address(serializers.Serializer[object]):
    city = serializers.CharField()


class Person(serializers.Serializer[object]):
    name = serializers.CharField()
    address = Address()
    tags = serializers.ListField(child=serializers.IntegerField())

    def validate(self, attrs: dict[str, object]) -> dict[str, object]:
        raise serializers.ValidationError("Not today.", code="closed")


def test_nested_errors_flatten_to_dotted_fields() -> None:
    serializer = Person(data={"name": "", "address": {}, "tags": [1, "x"]})
    assert not serializer.is_valid()
    assert flatten_errors(serializer.errors) == [
        {"code": "blank", "message": "This field may not be blank.", "field": "name"},
        {"code": "required", "message": "This field is required.", "field": "address.city"},
        {"code": "invalid", "message": "A valid integer is required.", "field": "tags.1"},
    ]


def test_non_field_errors_have_no_field() -> None:
    serializer = Person(data={"name": "a", "address": {"city": "b"}, "tags": []})
    assert not serializer.is_valid()
    assert flatten_errors(serializer.errors) == [
        {"code": "closed", "message": "Not today.", "field": None}
    ]


def test_a_bare_detail_is_one_error() -> None:
    assert flatten_errors(ErrorDetail("Nope", code="nope")) == [
        {"code": "nope", "message": "Nope", "field": None}
    ]


class Feedback(serializers.Serializer[object]):
    detail = serializers.CharField()
    address = Address()


def test_a_field_named_detail_keeps_its_name() -> None:
    # "`field` is the serializer field name (dotted for nested fields)".
    serializer = Feedback(data={"address": {"city": ""}})
    assert not serializer.is_valid()
    assert flatten_errors(serializer.errors) == [
        {"code": "required", "message": "This field is required.", "field": "detail"},
        {"code": "blank", "message": "This field may not be blank.", "field": "address.city"},
    ]
