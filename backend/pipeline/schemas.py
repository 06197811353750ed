"""JSON Schema (draft 2020-12) and react-jsonschema-form hints for form steps.

Form steps are declared once, as DRF serializers, so that the server keeps the
last word on validation. The single-page app only knows JSON Schema, so the
serializer is translated here. The schema is a convenience for the browser:
where a serializer rule has no faithful JSON Schema equivalent, it is left out
rather than approximated, because a schema stricter than the serializer would
stop users from sending data the server accepts. The one deliberate
exception is form: a value the serializer takes in several spellings is
described in the one it binds and shows again (a decimal as a string of
digits, a date as `YYYY-MM-DD`), so that what a form sends, and what it is
prefilled with after a back, is valid for its own schema.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from enum import Enum
from typing import Any

from django.core.validators import RegexValidator
from django.utils import translation
from django.utils.text import capfirst
from rest_framework import ISO_8601, serializers
from rest_framework.fields import empty
from rest_framework.settings import api_settings

Schema = dict[str, Any]
AnyField = serializers.Field[Any, Any, Any, Any]

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"

# Python-only regex syntax: the browser would read `\Z` as a literal "Z" and
# reject `(?P<name>...)`, so such patterns are not passed on.
_PYTHON_ONLY_REGEX = re.compile(r"\\[AZ]|\(\?P")


def form_schema(serializer: serializers.BaseSerializer[Any]) -> Schema:
    """The JSON Schema that the app renders and checks before submitting."""
    return {"$schema": DRAFT_2020_12, **_type_schema(serializer)}


def ui_schema(serializer: serializers.BaseSerializer[Any]) -> Schema:
    """The `ui:` hints that JSON Schema has no words for (widgets, order).

    `ui:order` is given explicitly because the order of object keys does not
    survive every JSON round trip (PostgreSQL jsonb, for one, sorts them).
    """
    ui: Schema = {}
    if isinstance(serializer, serializers.Serializer):
        ui["ui:order"] = [name for name, _ in writable_fields(serializer)]
    ui.update(_field_ui(serializer))
    return ui


def cached_form_schema(
    serializer_class: type[serializers.BaseSerializer[Any]],
) -> tuple[Schema, Schema]:
    """`(form_schema, ui_schema)` of `serializer_class()`, computed once.

    For serializers whose fields do not depend on the request. The cache is
    also keyed on the active language, since labels and help texts are
    translated while the schema is built. The dicts are shared between
    callers: copy them before changing anything.
    """
    # One tuple argument: mypy does not count classes as Hashable.
    return _cached_form_schema((serializer_class, translation.get_language()))


@functools.lru_cache(maxsize=1024)  # bounded: classes built at run time must not pile up
def _cached_form_schema(
    key: tuple[type[serializers.BaseSerializer[Any]], str | None],
) -> tuple[Schema, Schema]:
    serializer_class, _language = key
    serializer = serializer_class()
    return form_schema(serializer), ui_schema(serializer)


# Schema of one field


def writable_fields(serializer: serializers.Serializer[Any]) -> Iterator[tuple[str, AnyField]]:
    """The fields a user fills in: hidden fields are set by the server alone."""
    for name, field in serializer.fields.items():
        if not field.read_only and not isinstance(field, serializers.HiddenField):
            yield name, field


def _field_schema(field: AnyField) -> Schema:
    schema: Schema = {}
    title = _title(field)
    if title:
        schema["title"] = title
    if field.help_text:
        schema["description"] = str(field.help_text)
    schema.update(_bare_schema(field))
    default = _json_default(field)
    if default is not empty:
        schema["default"] = default
    return schema


def _title(field: AnyField) -> str:
    if field.label is not None:
        return str(field.label)
    return capfirst((field.field_name or "").replace("_", " ")) or ""


def _json_default(field: AnyField) -> Any:
    """The default as plain JSON, or `empty` when JSON cannot carry it.

    Callable defaults are computed per request, so no single value is right.
    """
    default: Any = field.default
    if default is empty or callable(default):
        return empty
    if isinstance(field, serializers.DecimalField):  # as a decimal is shown: a string
        shown = field.to_representation(default)
        return format(shown, "f") if isinstance(shown, Decimal) else shown
    try:
        return json.loads(json.dumps(default, allow_nan=False))
    except (TypeError, ValueError):
        return empty


def _bare_schema(field: AnyField) -> Schema:
    """The schema without title, description and default.

    Children of `many=True` serializers get this: DRF copies the list's label
    and help text onto the child, and repeating them on every item is noise.
    """
    schema = _type_schema(field)
    if field.allow_null:
        _allow_null(schema)
    return schema


def _allow_null(schema: Schema) -> None:
    """Let null through. A schema without `type`, `enum` or `oneOf` already does."""
    if "type" in schema:
        schema["type"] = [schema["type"], "null"]
    if "enum" in schema:
        schema["enum"] = [*schema["enum"], None]
    if "oneOf" in schema:
        schema["oneOf"] = [*schema["oneOf"], {"type": "null"}]


def _type_schema(field: AnyField) -> Schema:
    """Dispatch on the most specific known class, so subclasses need no ordering."""
    for cls in type(field).__mro__:
        handler = _HANDLERS.get(cls)
        if handler is not None:
            return handler(field)
    return {}


def _object_schema(serializer: serializers.Serializer[Any]) -> Schema:
    fields = list(writable_fields(serializer))
    schema: Schema = {
        "type": "object",
        "properties": {name: _field_schema(field) for name, field in fields},
    }
    required = [name for name, field in fields if field.required]
    if required:
        schema["required"] = required
    return schema


def _list_serializer_schema(serializer: serializers.ListSerializer[Any]) -> Schema:
    child = serializer.child
    items = _bare_schema(child) if child is not None else {}
    return _array_schema(serializer, items)


def _list_schema(field: serializers.ListField) -> Schema:
    return _array_schema(field, _field_schema(field.child))


def _array_schema(field: AnyField, items: Schema) -> Schema:
    """Shared by ListField and ListSerializer, which take the same length options."""
    schema: Schema = {"type": "array", "items": items}
    min_length = getattr(field, "min_length", None) or 0
    if not getattr(field, "allow_empty", True):
        min_length = max(min_length, 1)
    if min_length:
        schema["minItems"] = min_length
    max_length = getattr(field, "max_length", None)
    if max_length is not None:
        schema["maxItems"] = max_length
    return schema


def _dict_schema(field: serializers.DictField) -> Schema:
    schema: Schema = {"type": "object", "additionalProperties": _field_schema(field.child)}
    if not field.allow_empty:
        schema["minProperties"] = 1
    return schema


def _string_schema(field: serializers.CharField) -> Schema:
    schema: Schema = {"type": "string"}
    # DRF rejects "" (and blanks) before min_length is looked at.
    min_length = max(field.min_length or 0, 0 if field.allow_blank else 1)
    if min_length:
        schema["minLength"] = min_length
    if field.max_length is not None:
        schema["maxLength"] = field.max_length
    if field.style.get("input_type") == "password":
        schema["format"] = "password"
    return schema


def _formatted_char(format_: str) -> Callable[[serializers.CharField], Schema]:
    """For CharField subclasses, which keep their length options."""

    def schema(field: serializers.CharField) -> Schema:
        return {**_string_schema(field), "format": format_}

    return schema


_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def _uuid_schema(field: serializers.UUIDField) -> Schema:
    """As the field writes a UUID, so that what it binds is valid here too."""
    written = field.uuid_format
    if written == "hex":
        return {"type": "string", "pattern": "^[0-9a-f]{32}$"}
    if written == "urn":
        return {"type": "string", "pattern": f"^urn:uuid:{_UUID}$"}
    if written == "int":
        return {"type": "integer", "minimum": 0}
    return {"type": "string", "format": "uuid"}


def _moment(format_: str, setting: str) -> Callable[[AnyField], Schema]:
    """A date or time: ISO 8601 on the wire, unless the field writes its own format."""

    def schema(field: AnyField) -> Schema:
        written = getattr(field, "format", getattr(api_settings, setting))
        if written not in (ISO_8601, None):  # "%d/%m/%Y", say: no ISO format to claim
            return {"type": "string"}
        return {"type": "string", "format": format_}

    return schema


def _formatted_string(format_: str) -> Callable[[AnyField], Schema]:
    """For fields that are strings on the wire but take no length options."""

    def schema(field: AnyField) -> Schema:
        return {"type": "string", "format": format_}

    return schema


def _regex_schema(field: serializers.RegexField) -> Schema:
    schema = _string_schema(field)
    # RegexField keeps no regex attribute; it appends its validator last.
    validators = [v for v in field.validators if isinstance(v, RegexValidator)]
    pattern = _ecma_pattern(re.compile(validators[-1].regex)) if validators else None
    if pattern is not None:
        schema["pattern"] = pattern
    return schema


def _ecma_pattern(regex: re.Pattern[str]) -> str | None:
    """The pattern if a browser reads it as Python does, else None.

    Flags such as IGNORECASE have no place in a JSON Schema pattern.
    """
    if regex.flags & ~re.UNICODE or _PYTHON_ONLY_REGEX.search(regex.pattern):
        return None
    return regex.pattern


def _slug_schema(field: serializers.SlugField) -> Schema:
    schema = _string_schema(field)
    # Unicode slugs use `\w`, which browsers read as ASCII only.
    if not field.allow_unicode:
        schema["pattern"] = "^[-a-zA-Z0-9_]+$"
    return schema


def _ip_address_schema(field: serializers.IPAddressField) -> Schema:
    schema = _string_schema(field)
    if field.protocol in ("ipv4", "ipv6"):
        schema["format"] = field.protocol
    return schema


def _integer_schema(field: serializers.IntegerField) -> Schema:
    return {"type": "integer", **_bounds(field)}


def _number_schema(field: serializers.FloatField) -> Schema:
    return {"type": "number", **_bounds(field)}


def _decimal_schema(field: serializers.DecimalField) -> Schema:
    """A string of digits, as a decimal is bound and shown again: `"1.50"`.

    DRF represents a decimal as a string, which keeps every digit (a JSON
    number is a float to most clients), and the flow keeps it so whatever
    `coerce_to_string` says; a form prefilled after a back must be valid
    for its own schema. The serializer also takes a number or an exponent
    (`1e3`), and checks the bounds, which JSON Schema applies to numbers
    only.
    """
    places = field.decimal_places
    whole = None if field.max_digits is None or places is None else field.max_digits - places
    fraction = r"\d+" if places is None else rf"\d{{1,{places}}}"
    if whole == 0:  # "0.50": a leading zero is no digit to DRF, and a fraction is needed
        return {"type": "string", "pattern": rf"^[-+]?0*\.{fraction}$"}
    integer = r"\d+" if whole is None else rf"0*\d{{1,{whole}}}"
    if places == 0:
        return {"type": "string", "pattern": rf"^[-+]?{integer}$"}
    return {
        "type": "string",
        "pattern": rf"^[-+]?(?:{integer}(?:\.{fraction})?|\.{fraction})$",
    }


def _bounds(field: serializers.IntegerField | serializers.FloatField) -> Schema:
    bounds: Schema = {}
    if field.min_value is not None:
        bounds["minimum"] = _json_number(field.min_value)
    if field.max_value is not None:
        bounds["maximum"] = _json_number(field.max_value)
    return bounds


def _json_number(value: Decimal | float) -> float:
    return float(value) if isinstance(value, Decimal) else value


def _boolean_schema(field: serializers.BooleanField) -> Schema:
    return {"type": "boolean"}


def _choice_schema(field: serializers.ChoiceField) -> Schema:
    """An `enum` when the labels add nothing, else `oneOf` so the app can show them."""
    choices = {_json_value(value): str(label) for value, label in field.choices.items()}
    if field.allow_blank:
        choices.setdefault("", "")
    schema: Schema = {}
    types = {_json_type(value) for value in choices}
    if len(types) == 1 and None not in types:
        schema["type"] = types.pop()
    if all(label == str(value) for value, label in choices.items()):
        schema["enum"] = list(choices)
    else:
        schema["oneOf"] = [{"const": value, "title": label} for value, label in choices.items()]
    return schema


def _json_value(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def _json_type(value: Any) -> str | None:
    for python_type, json_type in (
        (bool, "boolean"),
        (int, "integer"),
        (float, "number"),
        (str, "string"),
    ):
        if isinstance(value, python_type):
            return json_type
    return None


def _multiple_choice_schema(field: serializers.MultipleChoiceField) -> Schema:
    schema: Schema = {"type": "array", "items": _choice_schema(field), "uniqueItems": True}
    if not field.allow_empty:
        schema["minItems"] = 1
    return schema


def _any_schema(field: AnyField) -> Schema:
    return {}


_HANDLERS: dict[type[Any], Callable[[Any], Schema]] = {
    serializers.Serializer: _object_schema,
    serializers.ListSerializer: _list_serializer_schema,
    serializers.CharField: _string_schema,
    serializers.EmailField: _formatted_char("email"),
    serializers.URLField: _formatted_char("uri"),
    serializers.RegexField: _regex_schema,
    serializers.SlugField: _slug_schema,
    serializers.IPAddressField: _ip_address_schema,
    serializers.UUIDField: _uuid_schema,
    serializers.DateField: _moment("date", "DATE_FORMAT"),
    serializers.DateTimeField: _moment("date-time", "DATETIME_FORMAT"),
    serializers.TimeField: _moment("time", "TIME_FORMAT"),
    serializers.IntegerField: _integer_schema,
    serializers.FloatField: _number_schema,
    serializers.DecimalField: _decimal_schema,
    serializers.BooleanField: _boolean_schema,
    serializers.ChoiceField: _choice_schema,
    serializers.MultipleChoiceField: _multiple_choice_schema,
    serializers.ListField: _list_schema,
    serializers.DictField: _dict_schema,
    serializers.JSONField: _any_schema,
}


# UI hints


def _field_ui(field: AnyField) -> Schema:
    """Hints from the field's style, then those of what it contains.

    Hints written in the style win over the ones derived here.
    """
    ui = {key: value for key, value in field.style.items() if key.startswith("ui:")}
    if field.style.get("input_type") == "password":
        ui.setdefault("ui:widget", "password")
    elif field.style.get("base_template") == "textarea.html":
        ui.setdefault("ui:widget", "textarea")
    ui.update(_contents_ui(field))
    return ui


def _contents_ui(field: AnyField) -> Schema:
    """Hints for nested fields, under the keys react-jsonschema-form looks in."""
    if isinstance(field, serializers.Serializer):
        return {
            name: hints for name, child in writable_fields(field) if (hints := _field_ui(child))
        }
    # As in the schema, the list's own style is not repeated on its items.
    if isinstance(field, serializers.ListSerializer) and field.child is not None:
        items = _contents_ui(field.child)
    elif isinstance(field, serializers.ListField):
        items = _field_ui(field.child)
    elif isinstance(field, serializers.DictField):
        values = _field_ui(field.child)
        return {"additionalProperties": values} if values else {}
    else:
        return {}
    return {"items": items} if items else {}
