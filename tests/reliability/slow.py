"""A test-only pipeline whose step and finish can be held at a gate, served by gunicorn.

`SlowPipeline` ("slow", provider "default") asks for a name, then for a
confirmation, and its `finish_pipeline` leaves an effect that can be counted
from outside: one `IdentityProvider` row of type `EFFECT_TYPE` per run that
committed (an existing table, so no migration; a fresh `external_id` per
run, so that a second run would add a second row rather than be refused).

Gates make a request stop inside a step, so that a test can kill the worker
or cut the database right there. They are files in the directory named by
the environment variable `RELIABILITY_GATES`, set for the server only:

* `<point>.hold` present: a request reaching `<point>` writes its worker's
  pid to `<point>.pid`, then waits (polling, up to `HOLD_DEADLINE` seconds)
  until the test removes `<point>.hold`;
* the points are `show` (the name step being shown, as the start of a
  flow does once the flow is stored), `step` (the name step given its
  input, validated, before anything is bound or written) and `finish`
  (inside the finishing transaction: after the flow is claimed and the
  effect row is written, before either is committed).

Without the variable, or without a `.hold` file, nothing waits.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rest_framework import serializers
from rest_framework.request import Request

from backend.identity.models import IdentityProvider
from backend.pipeline import FormView, Pipeline, PipelineProvider, ProviderManager, Step
from backend.pipeline.outcomes import StepResult

#: The `IdentityProvider.type` of the rows `finish_pipeline` leaves behind.
EFFECT_TYPE = "reliability-effect"
#: The longest a held request waits; less than gunicorn's worker timeout.
HOLD_DEADLINE = 20.0
GATES_ENV = "RELIABILITY_GATES"


def checkpoint(point: str) -> None:
    """Wait here while the test holds `point` (see the module's docstring)."""
    gates = os.environ.get(GATES_ENV)
    if not gates:
        return
    hold = Path(gates) / f"{point}.hold"
    if not hold.exists():
        return
    pid_file = Path(gates) / f"{point}.pid"
    partial = pid_file.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(str(os.getpid()))
    partial.replace(pid_file)  # the test never reads a half-written pid
    deadline = time.monotonic() + HOLD_DEADLINE
    while hold.exists() and time.monotonic() < deadline:
        time.sleep(0.01)


class NameSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100)


class ConfirmSerializer(serializers.Serializer[Any]):
    accept = serializers.BooleanField()


class GatedNameForm(FormView):
    """Stops at the `show` gate when shown; validates, stops at `step`, binds, moves on."""

    def dispatch(self, request: Request, pipeline: Pipeline) -> StepResult:
        if request.method != "POST":
            checkpoint("show")
        return super().dispatch(request, pipeline)

    def form_valid(self, pipeline: Pipeline, data: dict[str, Any]) -> StepResult:
        checkpoint("step")
        return super().form_valid(pipeline, data)


STEPS: tuple[Step, ...] = (
    GatedNameForm(NameSerializer, name="name"),
    FormView(ConfirmSerializer, name="confirm"),
)

manager = ProviderManager()


@manager.register
class SlowProvider(PipelineProvider):
    key = "default"
    name = "Default"

    def get_pipeline_views(self) -> Sequence[Step]:
        return STEPS


class SlowPipeline(Pipeline):
    pipeline_name = "slow"
    title = "Slow"
    provider_manager = manager

    def finish_pipeline(self) -> dict[str, Any]:
        flow = self.flow
        assert flow is not None
        name = self.fetch_state("name")["name"]
        effect = IdentityProvider.objects.create(
            type=EFFECT_TYPE,
            external_id=uuid.uuid4().hex,
            config={"flow": flow.id, "name": name, "pid": os.getpid()},
        )
        checkpoint("finish")
        return {"name": name, "effect": effect.pk}
