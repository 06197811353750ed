"""The steps a provider declares: views, and steps decided by the flow.

A provider's `get_pipeline_views()` lists *declarations*. A plain
`PipelineView` stands for itself; a `LateBoundStep` is built from the
flow's state when the flow gets there; a `ConditionalStep` is skipped
while its predicate is false. The running list (and so `step.total`) is
recomputed from the state as it stands, and a step's condition or factory
may only read state bound by earlier steps, so that the steps already
passed keep their places.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise
from rest_framework import serializers
from rest_framework.fields import empty, get_attribute
from rest_framework.request import Request

from .errors import error_item, flatten_errors
from .outcomes import Form, SerializerLike, StepResult
from .schemas import AnyField, cached_form_schema, writable_fields

if TYPE_CHECKING:
    from .base import Pipeline

INITIAL_DATA_KEY = "initial_data"


class Step:
    """A declaration in a provider's list of views."""

    def expand(self, pipeline: Pipeline) -> Sequence[PipelineView]:
        raise NotImplementedError

    def signature_part(self) -> str:
        """What identifies this declaration in the provider's signature."""
        raise NotImplementedError


class PipelineView(Step):
    """One step of a pipeline: shows itself, or takes its input and moves on.

    `dispatch` is given the request and the pipeline. On a GET it shows
    the step (returns a `Form` or a `Redirect`); given input (a POST, or
    the query string of a browser coming back) it binds what it needs with
    `pipeline.bind_state` and returns `pipeline.next_step()`, or returns
    `pipeline.error(...)`.
    """

    name: str = ""
    title: StrOrPromise = ""
    description: StrOrPromise = ""
    #: Whether the flow may go back from this step to the one before.
    allow_back: bool = True

    def get_name(self) -> str:
        return self.name or _snake_case(type(self).__name__)

    def dispatch(self, request: Request, pipeline: Pipeline) -> StepResult:
        raise NotImplementedError

    def expand(self, pipeline: Pipeline) -> Sequence[PipelineView]:
        return (self,)

    def signature_part(self) -> str:
        cls = type(self)
        return f"{cls.__module__}.{cls.__qualname__}:{self.get_name()}"


class FormView(PipelineView):
    """A step that asks for the fields of a DRF serializer.

    Valid input is bound under `bind_key` (the step's name by default) as
    the serializer's JSON representation, and the flow moves on. Invalid
    input binds nothing and shows the same step with its errors. After a
    back, the form is prefilled with what the step bound before.
    """

    serializer_class: type[serializers.BaseSerializer[Any]] = serializers.Serializer
    bind_key: str = ""
    ui_schema: Mapping[str, Any] = {}

    def __init__(
        self,
        serializer_class: type[serializers.BaseSerializer[Any]] | None = None,
        *,
        name: str = "",
        title: StrOrPromise = "",
        description: StrOrPromise = "",
        bind_key: str = "",
        ui_schema: Mapping[str, Any] | None = None,
        allow_back: bool | None = None,
    ) -> None:
        if serializer_class is not None:
            self.serializer_class = serializer_class
        self.name = name or self.name
        self.title = title or self.title
        self.description = description or self.description
        self.bind_key = bind_key or self.bind_key
        if ui_schema is not None:
            self.ui_schema = ui_schema
        if allow_back is not None:
            self.allow_back = allow_back

    def get_name(self) -> str:
        """The given name, else the serializer's (`ProfileSerializer` → `profile`)."""
        if self.name or self.serializer_class is serializers.Serializer:
            return super().get_name()
        return _snake_case(self.serializer_class.__name__.removesuffix("Serializer"))

    def get_bind_key(self) -> str:
        return self.bind_key or self.get_name()

    def get_serializer(
        self, pipeline: Pipeline, data: Any = empty
    ) -> serializers.BaseSerializer[Any]:
        """The serializer for this step; override to build fields from state."""
        context = {"pipeline": pipeline, "request": pipeline.request}
        return self.serializer_class(data=data, context=context)

    def get_initial(self, pipeline: Pipeline, fields: Sequence[str]) -> dict[str, Any]:
        """Prefill: what this step bound before, else the flow's initial data."""
        bound = pipeline.fetch_state(self.get_bind_key())
        if isinstance(bound, Mapping):
            return dict(bound)
        initial = pipeline.fetch_state(INITIAL_DATA_KEY)
        if isinstance(initial, Mapping):
            return {name: initial[name] for name in fields if name in initial}
        return {}

    def form_valid(self, pipeline: Pipeline, data: dict[str, Any]) -> StepResult:
        pipeline.bind_state(self.get_bind_key(), data)
        return pipeline.next_step()

    def dispatch(self, request: Request, pipeline: Pipeline) -> StepResult:
        if request.method != "POST":
            source = self._source(pipeline)
            return self.render(source, data=self.get_initial(pipeline, _field_names(source)))
        serializer = self.get_serializer(pipeline, data=request.data)
        if serializer.is_valid():
            data = as_json(serializer)
            errors = non_finite_errors(data)
            if not errors:
                return self.form_valid(pipeline, data)
        else:
            errors = flatten_errors(serializer.errors)
        source = self._source(pipeline, serializer)
        return self.render(
            source, data=submitted_data(request, _field_names(source)), errors=errors
        )

    def render(
        self,
        source: SerializerLike,
        *,
        data: Mapping[str, Any],
        errors: Sequence[Mapping[str, Any]] = (),
    ) -> Form:
        return Form(
            source,
            title=self.title,
            description=self.description,
            data=data,
            errors=errors,
            ui_schema=self.ui_schema,
        )

    def _source(
        self, pipeline: Pipeline, serializer: serializers.BaseSerializer[Any] | None = None
    ) -> SerializerLike:
        """The class when fields are static (its schema is cached), else an instance."""
        if type(self).get_serializer is FormView.get_serializer:
            return self.serializer_class
        return serializer or self.get_serializer(pipeline)


class LateBoundStep(Step):
    """Steps built by `factory(pipeline)` from the flow's state.

    The factory returns a view or a list of views; it is called whenever
    the flow's steps are counted, so it must cope with state that later
    steps have not bound yet (a single view whose details are read at
    dispatch time is the usual answer).
    """

    def __init__(
        self,
        factory: Callable[[Pipeline], PipelineView | Sequence[PipelineView]],
        *,
        name: str,
    ) -> None:
        self.factory = factory
        self.name = name

    def expand(self, pipeline: Pipeline) -> Sequence[PipelineView]:
        built = self.factory(pipeline)
        return (built,) if isinstance(built, PipelineView) else tuple(built)

    def signature_part(self) -> str:
        return f"late:{self.name}"


class ConditionalStep(Step):
    """A step taken only while `condition(pipeline)` holds."""

    def __init__(self, step: Step, condition: Callable[[Pipeline], bool]) -> None:
        self.step = step
        self.condition = condition

    def expand(self, pipeline: Pipeline) -> Sequence[PipelineView]:
        return self.step.expand(pipeline) if self.condition(pipeline) else ()

    def signature_part(self) -> str:
        return f"if:{self.step.signature_part()}"


def submitted_data(request: Request, fields: Iterable[str]) -> dict[str, Any]:
    """What a refused submit carried for the form's `fields`, to show again beside its errors.

    Only the form's own fields, so that no other input comes back in
    `form.data`, which a client renders with the form's schema.
    """
    data = request.data if isinstance(request.data, Mapping) else {}
    known = set(fields)
    return {key: value for key, value in data.items() if key in known}


def signature_of(steps: Sequence[Step]) -> str:
    """Identifies a provider's declared steps; a flow outlives no change of them.

    Computed once per list of step objects, which providers usually declare
    once (at import) and hand out on every request.
    """
    declared = tuple(steps)
    try:
        return _signature(declared)
    except TypeError:  # a step that cannot be hashed (a dataclass, say): not cached
        return _signature.__wrapped__(declared)


@functools.lru_cache(maxsize=256)  # bounded: steps built per request must not pile up
def _signature(steps: tuple[Step, ...]) -> str:
    parts = "\n".join(step.signature_part() for step in steps)
    return hashlib.sha256(parts.encode()).hexdigest()


def as_json(serializer: serializers.BaseSerializer[Any]) -> dict[str, Any]:
    """The valid input as JSON: the serializer's representation of it.

    `serializer.data` leaves out write-only fields (a password, typically),
    which a later step may well need; they are represented here too, at
    every level of nesting, but not hidden fields, which the server sets
    (the current user, say) and DRF cannot represent. A partial serializer
    (initial data) represents only what it was given. DRF represents a
    multiple choice as a set, which JSON has not: a list.
    """
    if isinstance(serializer, serializers.Serializer):
        data = _representation(serializer, serializer.validated_data, serializer.partial)
    else:
        data = dict(serializer.data)
    return {name: _json_value(value) for name, value in data.items()}


def _representation(
    serializer: serializers.Serializer[Any], validated: Mapping[str, Any], given_only: bool
) -> dict[str, Any]:
    data = {} if given_only else dict(serializer.to_representation(validated))
    for name, field in writable_fields(serializer):
        form = _form_in(field)
        if not (given_only or field.write_only or form is not None):
            continue  # DRF's representation above has it
        try:
            # source_attrs is [] for source="*": the whole of it.
            value = get_attribute(validated, field.source_attrs)
        except (KeyError, AttributeError, TypeError):
            continue  # not given
        if form is field and isinstance(value, Mapping):
            data[name] = _representation(form, value, given_only)
        elif form is not None and form is not field and isinstance(value, list):
            data[name] = [_representation(form, item, given_only) for item in value]
        elif given_only or field.write_only:
            data[name] = field.to_representation(value)
    return data


def _form_in(field: AnyField) -> serializers.Serializer[Any] | None:
    """The nested form a field is, or holds a list of (`many=True`)."""
    inner = field.child if isinstance(field, serializers.ListSerializer) else field
    return inner if isinstance(inner, serializers.Serializer) else None


def non_finite_errors(data: Any, path: str | None = None) -> list[dict[str, Any]]:
    """An error for each NaN or infinity in valid input, which JSON cannot carry.

    DRF's `FloatField` takes "nan" and "1e400"; the flow could not keep them.
    """
    message = _("Enter a finite number.")
    return [error_item("invalid", message, where) for where in _non_finite(data, path)]


def _non_finite(value: Any, path: str | None = None) -> Iterator[str | None]:
    """Where `value` holds a NaN or an infinity, as error paths (`items.0.price`)."""
    if isinstance(value, float) and not math.isfinite(value):
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _non_finite(item, str(key) if path is None else f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _non_finite(item, str(index) if path is None else f"{path}.{index}")


def _json_value(value: Any) -> Any:
    if isinstance(value, set | frozenset):
        return sorted((_json_value(item) for item in value), key=str)
    if isinstance(value, dict):
        return {key: _json_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(item) for item in value]
    if isinstance(value, bytes):  # a JSONField(binary=True): the JSON text it takes
        return value.decode("utf-8", errors="replace")
    if isinstance(value, Decimal):  # coerce_to_string=False: the string DRF would give
        return format(value, "f")
    if isinstance(value, datetime | date | time):  # format=None: ISO 8601, to the microsecond
        return value.isoformat()
    return value


def _field_names(source: SerializerLike) -> list[str]:
    if isinstance(source, type):
        return list(cached_form_schema(source)[0].get("properties", {}))
    if isinstance(source, serializers.Serializer):
        return [name for name, _field in writable_fields(source)]
    return []


def _snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
