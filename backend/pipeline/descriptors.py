"""Turning an outcome into the protocol's JSON step descriptor (`README.md`)."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.urls import reverse

from .outcomes import Complete, Form, Outcome, Redirect
from .state import ACTIVE, COMPLETE, FAILED

if TYPE_CHECKING:
    from .base import Pipeline


def describe(pipeline: Pipeline, outcome: Outcome) -> dict[str, Any]:
    """The descriptor of the outermost `pipeline` showing `outcome`.

    `step.index` and `step.total` are the outermost pipeline's, for a
    progress bar; `step.name` is the step actually shown, which inside a
    nested pipeline is the innermost one; `step.path` has every level.
    """
    state = pipeline.flow
    assert state is not None
    chain: list[Pipeline] | None = None
    if state.status == FAILED and state.final_path is not None:
        # Its state, from which its steps were found, went when it failed.
        path = [dict(level) for level in state.final_path]
    else:
        chain = pipeline.chain()
        path = path_of(chain, done=state.status == COMPLETE)
    descriptor: dict[str, Any] = {
        "id": state.id,
        "pipeline": state.pipeline,
        "provider": state.provider,
        "status": state.status,
        "expires_at": iso_utc(state.expires_at),
        "step": {
            "name": path[-1]["name"],
            "index": path[0]["index"],
            "total": path[0]["total"],
            "version": state.version,
            "path": path,
        },
        "kind": outcome.kind,
        "title": str(outcome.title),
        "description": str(outcome.description),
        # The flow's own errors (why it failed, or why a step is shown
        # again); a refused form adds its own below.
        "errors": [dict(error) for error in state.errors],
        "actions": [],
    }
    if isinstance(outcome, Form):
        schema, ui = outcome.schemas()
        descriptor["form"] = {"schema": schema, "ui_schema": ui, "data": dict(outcome.data)}
        descriptor["errors"] += [dict(error) for error in outcome.errors]
    elif isinstance(outcome, Redirect):
        descriptor["redirect"] = {"url": outcome.url}
    elif isinstance(outcome, Complete):
        descriptor["result"] = outcome.result
    if state.status == ACTIVE:
        descriptor["actions"] = _actions(state.id, outcome, pipeline.can_go_back(chain))
    return descriptor


def path_of(chain: list[Pipeline], *, done: bool = False) -> list[dict[str, Any]]:
    """`step.path` of a chain of running pipelines, outermost first.

    `done`: a completed flow, which took every step it is past; its state,
    from which conditional and late-bound steps are found, is gone.
    """
    path = []
    for level in chain:
        if done:
            name, total = None, level.step_index
        else:
            view = level.current_view()
            name, total = (view.get_name() if view is not None else None), len(level.steps())
        path.append(
            {
                "pipeline": level.pipeline_name,
                "provider": level.provider_key,
                "name": name,
                "index": level.step_index,
                "total": total,
            }
        )
    return path


def _actions(flow_id: str, outcome: Outcome, can_go_back: bool) -> list[dict[str, str]]:
    href = f"{api_root()}{flow_id}/"
    actions = []
    if isinstance(outcome, Form):
        actions.append({"name": "submit", "method": "POST", "href": href})
    if can_go_back:
        actions.append({"name": "back", "method": "POST", "href": f"{href}back/"})
    actions.append({"name": "cancel", "method": "DELETE", "href": href})
    return actions


@functools.cache
def api_root() -> str:
    """`/api/pipelines/`, reversed once per process."""
    return reverse("pipeline-list")


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
