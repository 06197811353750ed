"""The JSON Schema of a serializer must never contradict the serializer itself.

Most tests pin one mapping; the last ones check the whole against the 2020-12
metaschema and against the serializer, on the same data.
"""

from __future__ import annotations

import copy
import datetime
import re
from decimal import Decimal
from typing import Any

import pytest
from django.utils import translation
from django.utils.translation import gettext_lazy
from jsonschema import Draft202012Validator
from rest_framework import serializers

from backend.pipeline.schemas import cached_form_schema, form_schema, ui_schema
from backend.pipeline.steps import as_json

Schema = dict[str, Any]


def field_schema(field: serializers.Field[Any, Any, Any, Any], name: str = "value") -> Schema:
    """The schema of one field, as it appears inside a serializer."""
    serializer = type("OneField", (serializers.Serializer,), {name: field})()
    schema: Schema = form_schema(serializer)["properties"][name]
    return schema


def field_ui(field: serializers.Field[Any, Any, Any, Any]) -> Schema:
    serializer = type("OneField", (serializers.Serializer,), {"value": field})()
    ui: Schema = ui_schema(serializer).get("value", {})
    return ui


def without_annotations(schema: Schema) -> Schema:
    return {key: value for key, value in schema.items() if key not in ("title", "description")}


class AddressSerializer(serializers.Serializer[Any]):
    street = serializers.CharField(max_length=40, style={"ui:autofocus": True})
    postcode = serializers.RegexField(r"^[0-9]{5}$", required=False)


class EverythingSerializer(serializers.Serializer[Any]):
    """A form using every field kind the module maps."""

    name = serializers.CharField(max_length=10, help_text="As on your passport")
    nickname = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    password = serializers.CharField(style={"input_type": "password"}, write_only=True)
    bio = serializers.CharField(required=False, style={"base_template": "textarea.html"})
    email = serializers.EmailField()
    website = serializers.URLField(required=False)
    code = serializers.RegexField(r"^[A-Z]{3}$")
    slug = serializers.SlugField()
    ip = serializers.IPAddressField(protocol="IPv4", required=False)
    token = serializers.UUIDField(required=False)
    birthday = serializers.DateField()
    meeting = serializers.DateTimeField(required=False)
    alarm = serializers.TimeField(required=False)
    age = serializers.IntegerField(min_value=18, max_value=130)
    ratio = serializers.FloatField(min_value=0.0, max_value=1.0, required=False)
    price = serializers.DecimalField(
        max_digits=6, decimal_places=2, min_value=Decimal("0.50"), required=False
    )
    subscribe = serializers.BooleanField(default=False)
    colour = serializers.ChoiceField(choices=[("r", "Red"), ("g", "Green")])
    size = serializers.ChoiceField(choices=[1, 2, 3], allow_null=True, default=None)
    toppings = serializers.MultipleChoiceField(choices=["ham", "olives"], allow_empty=False)
    tags = serializers.ListField(child=serializers.CharField(), max_length=3, required=False)
    scores = serializers.DictField(child=serializers.IntegerField(), required=False)
    extra = serializers.JSONField(required=False)
    address = AddressSerializer()
    # What `many=True, max_length=2` builds; the stubs lack the length options.
    previous_addresses: serializers.ListSerializer[Any] = serializers.ListSerializer(
        child=AddressSerializer(), required=False, max_length=2
    )
    duration = serializers.DurationField(required=False)
    id = serializers.IntegerField(read_only=True)
    owner = serializers.HiddenField(default=1)


VALID_DATA: Schema = {
    "name": "Ada",
    "nickname": None,
    "password": "s3cret",
    "email": "ada@example.com",
    "website": "https://example.com/",
    "code": "ABC",
    "slug": "ada-lovelace",
    "ip": "192.0.2.1",
    "token": "12345678-1234-5678-1234-567812345678",
    "birthday": "1815-12-10",
    "meeting": "2024-01-01T10:00:00+00:00",
    "alarm": "07:30:00",
    "age": 36,
    "ratio": 0.5,
    "price": "12.50",
    "subscribe": True,
    "colour": "g",
    "size": 2,
    "toppings": ["ham"],
    "tags": ["math", "engines"],
    "scores": {"a": 1},
    "extra": {"anything": [1, "two"]},
    "address": {"street": "St James's Square", "postcode": "12345"},
    "previous_addresses": [{"street": "Marylebone"}],
}


# Top level


def test_form_schema_is_a_draft_2020_12_object_in_field_order() -> None:
    schema = form_schema(AddressSerializer())

    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["type"] == "object"
    assert list(schema["properties"]) == ["street", "postcode"]


def test_required_lists_only_fields_the_serializer_requires() -> None:
    assert form_schema(AddressSerializer())["required"] == ["street"]


def test_required_is_left_out_when_no_field_is_required() -> None:
    class Optional(serializers.Serializer[Any]):
        note = serializers.CharField(required=False)

    assert "required" not in form_schema(Optional())


def test_read_only_and_hidden_fields_are_left_out_but_write_only_kept() -> None:
    class Account(serializers.Serializer[Any]):
        id = serializers.IntegerField(read_only=True)
        owner = serializers.HiddenField(default=1)
        password = serializers.CharField(write_only=True)

    schema = form_schema(Account())

    assert list(schema["properties"]) == ["password"]
    assert schema["required"] == ["password"]


# Annotations


def test_title_comes_from_the_label() -> None:
    assert field_schema(serializers.CharField(label="Full name"))["title"] == "Full name"


def test_title_falls_back_to_the_field_name_capitalised_with_spaces() -> None:
    assert field_schema(serializers.CharField(), name="first_name")["title"] == "First name"


def test_help_text_becomes_the_description() -> None:
    schema = field_schema(serializers.CharField(help_text="As on your passport"))

    assert schema["description"] == "As on your passport"


def test_lazy_label_and_help_text_become_plain_strings() -> None:
    schema = field_schema(
        serializers.CharField(label=gettext_lazy("Name"), help_text=gettext_lazy("Yours"))
    )

    assert type(schema["title"]) is str
    assert type(schema["description"]) is str
    assert (schema["title"], schema["description"]) == ("Name", "Yours")


def test_json_default_is_given() -> None:
    assert field_schema(serializers.IntegerField(default=3))["default"] == 3


def test_default_is_given_as_plain_json() -> None:
    schema = field_schema(serializers.DictField(default={"pair": ("a", "b")}))

    assert schema["default"] == {"pair": ["a", "b"]}


@pytest.mark.parametrize(
    "field",
    [
        serializers.ListField(default=list),
        serializers.DateField(default=datetime.date(1815, 12, 10)),
        serializers.CharField(required=False),
    ],
    ids=["callable", "not-json", "none"],
)
def test_default_is_left_out_when_json_cannot_carry_it(
    field: serializers.Field[Any, Any, Any, Any],
) -> None:
    assert "default" not in field_schema(field)


# Strings


def test_char_field_needs_one_character_because_drf_rejects_blank() -> None:
    schema = field_schema(serializers.CharField())

    assert without_annotations(schema) == {"type": "string", "minLength": 1}


def test_char_field_allowing_blank_has_no_min_length() -> None:
    schema = field_schema(serializers.CharField(allow_blank=True))

    assert without_annotations(schema) == {"type": "string"}


def test_char_field_lengths_become_min_and_max_length() -> None:
    schema = field_schema(serializers.CharField(min_length=2, max_length=5))

    assert (schema["minLength"], schema["maxLength"]) == (2, 5)


def test_regex_field_pattern_is_copied() -> None:
    schema = field_schema(serializers.RegexField(re.compile(r"^[a-z]+-[0-9]+$")))

    assert schema["pattern"] == r"^[a-z]+-[0-9]+$"


@pytest.mark.parametrize(
    "regex",
    [re.compile(r"^[a-z]+$", re.IGNORECASE), r"^[a-z]+\Z", r"^(?P<word>[a-z]+)$"],
    ids=["flags", "python-anchor", "python-group"],
)
def test_regex_a_browser_would_read_differently_is_not_copied(
    regex: str | re.Pattern[str],
) -> None:
    schema = field_schema(serializers.RegexField(regex))

    assert without_annotations(schema) == {"type": "string", "minLength": 1}


def test_slug_field_gets_the_ascii_slug_pattern() -> None:
    assert field_schema(serializers.SlugField())["pattern"] == "^[-a-zA-Z0-9_]+$"


def test_unicode_slug_field_has_no_pattern() -> None:
    assert "pattern" not in field_schema(serializers.SlugField(allow_unicode=True))


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        (serializers.EmailField(), {"type": "string", "minLength": 1, "format": "email"}),
        (serializers.URLField(), {"type": "string", "minLength": 1, "format": "uri"}),
        (serializers.DateField(), {"type": "string", "format": "date"}),
        (serializers.DateTimeField(), {"type": "string", "format": "date-time"}),
        (serializers.TimeField(), {"type": "string", "format": "time"}),
        (serializers.UUIDField(), {"type": "string", "format": "uuid"}),
    ],
    ids=["email", "url", "date", "datetime", "time", "uuid"],
)
def test_string_fields_with_a_format_declare_it(
    field: serializers.Field[Any, Any, Any, Any], expected: Schema
) -> None:
    assert without_annotations(field_schema(field)) == expected


def test_email_field_keeps_its_length_limits() -> None:
    assert field_schema(serializers.EmailField(max_length=50))["maxLength"] == 50


@pytest.mark.parametrize(
    ("protocol", "expected"),
    [("IPv4", "ipv4"), ("ipv6", "ipv6"), ("both", None)],
)
def test_ip_address_field_format_follows_its_protocol(protocol: str, expected: str | None) -> None:
    schema = field_schema(serializers.IPAddressField(protocol=protocol))

    assert schema.get("format") == expected


def test_password_field_has_password_format_and_widget() -> None:
    field = serializers.CharField(style={"input_type": "password"})

    assert field_schema(field)["format"] == "password"
    assert field_ui(field) == {"ui:widget": "password"}


# Numbers and booleans


def test_integer_field_bounds_become_minimum_and_maximum() -> None:
    schema = field_schema(serializers.IntegerField(min_value=1, max_value=10))

    assert without_annotations(schema) == {"type": "integer", "minimum": 1, "maximum": 10}


def test_float_field_becomes_a_number() -> None:
    schema = field_schema(serializers.FloatField(max_value=2.5))

    assert without_annotations(schema) == {"type": "number", "maximum": 2.5}


def test_decimal_field_becomes_a_string_of_digits_as_it_is_bound() -> None:
    field = serializers.DecimalField(
        max_digits=5, decimal_places=2, min_value=Decimal("0.5"), max_value=Decimal("99.99")
    )

    schema = field_schema(field)

    assert without_annotations(schema) == {
        "type": "string",
        "pattern": r"^[-+]?(?:0*\d{1,3}(?:\.\d{1,2})?|\.\d{1,2})$",
    }


@pytest.mark.parametrize(
    ("field", "taken", "refused"),
    [
        (
            serializers.DecimalField(max_digits=5, decimal_places=2),
            ["1.50", "-1.5", "+1.5", "007.5", ".5", "12", "999.99", "0.00"],
            ["", "-", ".", "-.", "1000", "1.505", "1,5"],
        ),
        (
            serializers.DecimalField(max_digits=2, decimal_places=2),
            ["0.50", ".5", "-0.25", "00.5"],
            ["", "0", "1.5", "0.505"],
        ),
        (
            serializers.DecimalField(max_digits=None, decimal_places=None),
            ["-12345.678", "7", ".5"],
            ["", ".", "1,5"],
        ),
        (
            serializers.DecimalField(max_digits=4, decimal_places=0),
            ["1234", "0012"],
            ["", "12345", "1.5"],
        ),
    ],
)
def test_a_decimal_schema_takes_what_the_field_takes(
    field: serializers.DecimalField, taken: list[str], refused: list[str]
) -> None:
    class Price(serializers.Serializer[Any]):
        amount = field

    pattern = re.compile(field_schema(field)["pattern"])
    for value in taken:
        assert pattern.search(value), value
        assert Price(data={"amount": value}).is_valid(), value
    for value in refused:
        assert not pattern.search(value), value
        assert not Price(data={"amount": value}).is_valid(), value


@pytest.mark.parametrize("coerce_to_string", [True, False])
def test_a_decimal_default_is_shown_as_a_decimal_is(coerce_to_string: bool) -> None:
    field = serializers.DecimalField(
        5, 2, default=Decimal("1.5"), coerce_to_string=coerce_to_string
    )
    assert field_schema(field)["default"] == "1.50"


@pytest.mark.parametrize("written", ["hex_verbose", "hex", "urn", "int"])
def test_a_uuid_schema_takes_the_uuid_as_the_field_writes_it(written: str) -> None:
    class Token(serializers.Serializer[Any]):
        token = serializers.UUIDField(format=written)

    serializer = Token(data={"token": "12345678-1234-5678-1234-567812345678"})
    assert serializer.is_valid()
    bound = as_json(serializer)

    assert list(validator_for(Token()).iter_errors(bound)) == []
    assert Token(data=bound).is_valid()


@pytest.mark.parametrize(
    ("field", "claimed"),
    [
        (serializers.DateField(), "date"),
        (serializers.DateField(format=None), "date"),
        (serializers.DateField(format="%d.%m.%Y"), None),
        (serializers.DateTimeField(format="%d/%m/%Y %H:%M"), None),
    ],
)
def test_a_date_claims_the_iso_format_only_when_it_writes_it(
    field: serializers.Field[Any, Any, Any, Any], claimed: str | None
) -> None:
    assert field_schema(field).get("format") == claimed


def test_boolean_field_becomes_a_boolean() -> None:
    assert without_annotations(field_schema(serializers.BooleanField())) == {"type": "boolean"}


# Choices


def test_choice_field_without_labels_becomes_a_typed_enum() -> None:
    schema = field_schema(serializers.ChoiceField(choices=["tea", "coffee"]))

    assert without_annotations(schema) == {"type": "string", "enum": ["tea", "coffee"]}


def test_choice_field_with_labels_becomes_one_of_const_title() -> None:
    schema = field_schema(serializers.ChoiceField(choices=[(1, "One"), (2, "Two")]))

    assert without_annotations(schema) == {
        "type": "integer",
        "oneOf": [{"const": 1, "title": "One"}, {"const": 2, "title": "Two"}],
    }


def test_choice_field_grouped_choices_are_flattened() -> None:
    choices = [("Hot", [("tea", "Tea"), ("coffee", "Coffee")]), ("water", "Water")]

    schema = field_schema(serializers.ChoiceField(choices=choices))

    assert [option["const"] for option in schema["oneOf"]] == ["tea", "coffee", "water"]


def test_choice_field_with_mixed_value_types_has_no_type() -> None:
    schema = field_schema(serializers.ChoiceField(choices=[1, "two"]))

    assert without_annotations(schema) == {"enum": [1, "two"]}


def test_choice_field_allowing_blank_offers_the_empty_string() -> None:
    schema = field_schema(serializers.ChoiceField(choices=["a"], allow_blank=True))

    assert schema["enum"] == ["a", ""]


def test_choice_field_lazy_labels_become_plain_strings() -> None:
    schema = field_schema(serializers.ChoiceField(choices=[("y", gettext_lazy("Yes"))]))

    assert schema["oneOf"] == [{"const": "y", "title": "Yes"}]


def test_multiple_choice_field_becomes_an_array_of_unique_choices() -> None:
    schema = field_schema(serializers.MultipleChoiceField(choices=[("a", "A"), ("b", "B")]))

    assert without_annotations(schema) == {
        "type": "array",
        "items": {
            "type": "string",
            "oneOf": [{"const": "a", "title": "A"}, {"const": "b", "title": "B"}],
        },
        "uniqueItems": True,
    }


def test_multiple_choice_field_not_allowing_empty_needs_one_item() -> None:
    field = serializers.MultipleChoiceField(choices=["a"], allow_empty=False)

    assert field_schema(field)["minItems"] == 1


# Containers


def test_list_field_items_follow_the_child() -> None:
    schema = field_schema(serializers.ListField(child=serializers.IntegerField(min_value=0)))

    assert without_annotations(schema) == {
        "type": "array",
        "items": {"type": "integer", "minimum": 0},
    }


def test_list_field_lengths_become_min_and_max_items() -> None:
    schema = field_schema(serializers.ListField(min_length=2, max_length=4))

    assert (schema["minItems"], schema["maxItems"]) == (2, 4)


def test_list_field_not_allowing_empty_needs_one_item() -> None:
    assert field_schema(serializers.ListField(allow_empty=False))["minItems"] == 1


def test_list_field_without_child_accepts_any_items() -> None:
    assert field_schema(serializers.ListField())["items"] == {}


def test_dict_field_values_follow_the_child() -> None:
    schema = field_schema(serializers.DictField(child=serializers.BooleanField()))

    assert without_annotations(schema) == {
        "type": "object",
        "additionalProperties": {"type": "boolean"},
    }


def test_dict_field_not_allowing_empty_needs_one_property() -> None:
    assert field_schema(serializers.DictField(allow_empty=False))["minProperties"] == 1


def test_json_field_accepts_any_value() -> None:
    assert field_schema(serializers.JSONField(), name="extra") == {"title": "Extra"}


def test_nested_serializer_becomes_an_object_without_its_own_draft_marker() -> None:
    schema = field_schema(AddressSerializer(), name="home")

    assert schema == {
        "title": "Home",
        "type": "object",
        "properties": {
            "street": {"title": "Street", "type": "string", "minLength": 1, "maxLength": 40},
            "postcode": {
                "title": "Postcode",
                "type": "string",
                "minLength": 1,
                "pattern": "^[0-9]{5}$",
            },
        },
        "required": ["street"],
    }


def test_many_nested_serializer_becomes_an_array_of_objects() -> None:
    schema = field_schema(AddressSerializer(many=True, label="Homes"), name="homes")

    nested = form_schema(AddressSerializer())
    del nested["$schema"]
    assert schema == {"title": "Homes", "type": "array", "items": nested}


def test_many_nested_serializer_length_options_become_item_counts() -> None:
    field: serializers.ListSerializer[Any] = serializers.ListSerializer(
        child=AddressSerializer(), allow_empty=False, max_length=3
    )

    schema = field_schema(field)

    assert (schema["minItems"], schema["maxItems"]) == (1, 3)


def test_many_nested_serializer_min_length_becomes_min_items() -> None:
    field: serializers.ListSerializer[Any] = serializers.ListSerializer(
        child=AddressSerializer(), min_length=2
    )

    assert field_schema(field)["minItems"] == 2


def test_unknown_field_accepts_anything_and_keeps_its_title() -> None:
    class ColourField(serializers.Field[Any, Any, Any, Any]):
        pass

    assert field_schema(ColourField(), name="colour") == {"title": "Colour"}
    assert field_schema(serializers.DurationField(), name="wait") == {"title": "Wait"}


# allow_null


def test_nullable_field_type_becomes_a_list_with_null() -> None:
    schema = field_schema(serializers.CharField(allow_null=True, max_length=3))

    assert schema["type"] == ["string", "null"]


def test_nullable_enum_offers_null() -> None:
    schema = field_schema(serializers.ChoiceField(choices=["a"], allow_null=True))

    assert without_annotations(schema) == {"type": ["string", "null"], "enum": ["a", None]}


def test_nullable_one_of_gets_a_null_branch() -> None:
    field = serializers.ChoiceField(choices=[(1, "One"), ("x", "Ex")], allow_null=True)

    schema = field_schema(field)

    assert "type" not in schema
    assert schema["oneOf"][-1] == {"type": "null"}
    assert Draft202012Validator(schema).is_valid(None)


def test_nullable_nested_serializer_is_an_object_or_null() -> None:
    schema = field_schema(AddressSerializer(allow_null=True))

    assert schema["type"] == ["object", "null"]


def test_nullable_json_field_still_accepts_anything() -> None:
    assert without_annotations(field_schema(serializers.JSONField(allow_null=True))) == {}


# UI hints


def test_ui_schema_gives_the_field_order() -> None:
    assert ui_schema(AddressSerializer())["ui:order"] == ["street", "postcode"]


def test_ui_schema_omits_fields_without_hints() -> None:
    class Plain(serializers.Serializer[Any]):
        name = serializers.CharField()

    assert ui_schema(Plain()) == {"ui:order": ["name"]}


def test_textarea_template_becomes_textarea_widget() -> None:
    field = serializers.CharField(style={"base_template": "textarea.html"})

    assert field_ui(field) == {"ui:widget": "textarea"}


def test_ui_keys_in_style_are_copied_and_win_over_derived_hints() -> None:
    field = serializers.CharField(
        style={"input_type": "password", "ui:widget": "text", "ui:help": "8 characters"}
    )

    assert field_ui(field) == {"ui:widget": "text", "ui:help": "8 characters"}


def test_choice_widget_can_be_chosen_in_style() -> None:
    field = serializers.ChoiceField(choices=["a", "b"], style={"ui:widget": "radio"})

    assert field_ui(field) == {"ui:widget": "radio"}


def test_nested_serializer_hints_are_nested() -> None:
    assert field_ui(AddressSerializer()) == {"street": {"ui:autofocus": True}}


def test_many_nested_serializer_hints_go_under_items() -> None:
    field = AddressSerializer(many=True, style={"ui:options": {"orderable": False}})

    assert field_ui(field) == {
        "ui:options": {"orderable": False},
        "items": {"street": {"ui:autofocus": True}},
    }


def test_list_and_dict_child_hints_go_where_rjsf_looks() -> None:
    textarea = {"base_template": "textarea.html"}

    list_ui = field_ui(serializers.ListField(child=serializers.CharField(style=textarea)))
    dict_ui = field_ui(serializers.DictField(child=serializers.CharField(style=textarea)))

    assert list_ui == {"items": {"ui:widget": "textarea"}}
    assert dict_ui == {"additionalProperties": {"ui:widget": "textarea"}}


def test_ui_schema_of_every_field_kind() -> None:
    assert ui_schema(EverythingSerializer()) == {
        "ui:order": [
            "name",
            "nickname",
            "password",
            "bio",
            "email",
            "website",
            "code",
            "slug",
            "ip",
            "token",
            "birthday",
            "meeting",
            "alarm",
            "age",
            "ratio",
            "price",
            "subscribe",
            "colour",
            "size",
            "toppings",
            "tags",
            "scores",
            "extra",
            "address",
            "previous_addresses",
            "duration",
        ],
        "password": {"ui:widget": "password"},
        "bio": {"ui:widget": "textarea"},
        "address": {"street": {"ui:autofocus": True}},
        "previous_addresses": {"items": {"street": {"ui:autofocus": True}}},
    }


# The schema as a whole


ALL_SERIALIZERS = [
    EverythingSerializer(),
    AddressSerializer(),
    AddressSerializer(many=True),
    type("Nullable", (EverythingSerializer,), {"address": AddressSerializer(allow_null=True)})(),
]


@pytest.mark.parametrize("serializer", ALL_SERIALIZERS)
def test_schema_is_valid_under_the_2020_12_metaschema(
    serializer: serializers.BaseSerializer[Any],
) -> None:
    Draft202012Validator.check_schema(form_schema(serializer))


def test_every_field_kind_appears_in_the_big_schema() -> None:
    properties = form_schema(EverythingSerializer())["properties"]

    assert set(properties) == set(EverythingSerializer().fields) - {"id", "owner"}
    assert properties["duration"] == {"title": "Duration"}


def validator_for(serializer: serializers.BaseSerializer[Any]) -> Draft202012Validator:
    return Draft202012Validator(
        form_schema(serializer), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def test_data_valid_for_the_serializer_is_valid_for_the_schema() -> None:
    serializer = EverythingSerializer(data=VALID_DATA)

    assert serializer.is_valid(), serializer.errors
    assert list(validator_for(EverythingSerializer()).iter_errors(VALID_DATA)) == []


def test_what_a_form_binds_is_valid_for_its_schema_so_a_prefill_can_be_sent_again() -> None:
    serializer = EverythingSerializer(data=VALID_DATA)
    assert serializer.is_valid(), serializer.errors

    bound = as_json(serializer)

    assert list(validator_for(EverythingSerializer()).iter_errors(bound)) == []
    assert EverythingSerializer(data=bound).is_valid()


@pytest.mark.parametrize(
    ("field_name", "value"),
    [
        ("name", "x" * 11),
        ("name", ""),
        ("age", 17),
        ("age", 131),
        ("colour", "blue"),
        ("toppings", []),
        ("code", "abc"),
        ("slug", "not a slug"),
        ("tags", ["a", "b", "c", "d"]),
        ("address", {"postcode": "12345"}),
        ("previous_addresses", [{"street": "a"}, {"street": "b"}, {"street": "c"}]),
        ("email", None),
    ],
)
def test_data_invalid_for_the_serializer_is_invalid_for_the_schema(
    field_name: str, value: Any
) -> None:
    data = copy.deepcopy(VALID_DATA)
    data[field_name] = value

    assert not EverythingSerializer(data=data).is_valid()
    assert not validator_for(EverythingSerializer()).is_valid(data)


def test_many_serializer_schema_validates_a_list_of_objects() -> None:
    validator = validator_for(AddressSerializer(many=True))

    assert validator.is_valid([{"street": "a"}])
    assert not validator.is_valid([{"street": "a" * 41}])


# Caching


def test_cached_form_schema_returns_the_same_objects_on_repeated_calls() -> None:
    first = cached_form_schema(AddressSerializer)

    assert cached_form_schema(AddressSerializer) is first
    assert first == (form_schema(AddressSerializer()), ui_schema(AddressSerializer()))


def test_cached_form_schema_is_kept_per_class() -> None:
    class Other(serializers.Serializer[Any]):
        note = serializers.CharField()

    assert cached_form_schema(Other)[0] != cached_form_schema(AddressSerializer)[0]


def test_cached_form_schema_is_kept_per_language() -> None:
    with translation.override("en"):
        english = cached_form_schema(AddressSerializer)
    with translation.override("fr"):
        french = cached_form_schema(AddressSerializer)

    assert french is not english
