"""What a step gives back, before it becomes a descriptor.

A view returns one of these (or what a pipeline method returned to it);
the pipeline writes the flow first and only then turns the outcome into a
descriptor, so that the descriptor carries the version actually stored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django_stubs_ext import StrOrPromise
from rest_framework import serializers
from rest_framework.response import Response

from .schemas import cached_form_schema, form_schema, ui_schema

SerializerLike = type[serializers.BaseSerializer[Any]] | serializers.BaseSerializer[Any]


@dataclass(frozen=True)
class Form:
    """A form to fill: the schema comes from a DRF serializer.

    Give the serializer *class* when its fields never change, so that its
    schema is generated once per process; give an instance when its fields
    depend on the flow (choices built from earlier state).
    """

    serializer: SerializerLike
    title: StrOrPromise = ""
    description: StrOrPromise = ""
    data: Mapping[str, Any] = field(default_factory=dict)
    errors: Sequence[Mapping[str, Any]] = ()
    ui_schema: Mapping[str, Any] = field(default_factory=dict)

    kind = "form"

    def schemas(self) -> tuple[dict[str, Any], dict[str, Any]]:
        if isinstance(self.serializer, type):
            schema, ui = cached_form_schema(self.serializer)
        else:
            schema, ui = form_schema(self.serializer), ui_schema(self.serializer)
        if self.ui_schema:
            ui = {**ui, **self.ui_schema}
        return schema, ui


@dataclass(frozen=True)
class Redirect:
    """Send the browser elsewhere; the flow resumes through the callback."""

    url: str
    title: StrOrPromise = ""
    description: StrOrPromise = ""

    kind = "redirect"


@dataclass(frozen=True)
class Complete:
    result: Any
    title: StrOrPromise = ""
    description: StrOrPromise = ""

    kind = "complete"


@dataclass(frozen=True)
class Failure:
    title: StrOrPromise = ""
    description: StrOrPromise = ""

    kind = "error"


Outcome = Form | Redirect | Complete | Failure


class StepResponse(Response):
    """The answer of `next_step()`, `error()` or `current_step()` inside a step.

    It is a DRF `Response`, as Sentry's pipeline methods return responses,
    but its descriptor is only built by the outermost call, once the flow
    has been written.
    """

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(None)
        self.outcome = outcome


#: What `PipelineView.dispatch` may return.
StepResult = Form | Redirect | Response


def as_outcome(result: StepResult) -> Outcome:
    if isinstance(result, StepResponse):
        return result.outcome
    if isinstance(result, Form | Redirect):
        return result
    raise TypeError(
        "a pipeline view must return a Form, a Redirect, or what a pipeline "
        f"method returned (next_step, error, current_step), not {type(result).__name__}"
    )
