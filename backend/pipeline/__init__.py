"""Pipelines for Django REST framework.

Multi-step, server-driven flows whose every step is answered as a JSON step
descriptor. The concepts are those of Sentry's pipeline module: a
`Pipeline` runs the views of a `PipelineProvider` (found by key through a
provider manager), each `PipelineView` binds state and moves the flow on,
and `NestedPipelineView` runs a whole pipeline as one step.
"""

from .base import Pipeline, PipelineNotInitialized
from .errors import flatten_errors
from .nested import NestedPipelineView
from .outcomes import Form, Redirect, StepResponse, StepResult
from .provider import PipelineProvider, ProviderLookup, ProviderManager
from .steps import (
    INITIAL_DATA_KEY,
    ConditionalStep,
    FormView,
    LateBoundStep,
    PipelineView,
    Step,
    submitted_data,
)

__all__ = [
    "INITIAL_DATA_KEY",
    "ConditionalStep",
    "Form",
    "FormView",
    "LateBoundStep",
    "NestedPipelineView",
    "Pipeline",
    "PipelineNotInitialized",
    "PipelineProvider",
    "PipelineView",
    "ProviderLookup",
    "ProviderManager",
    "Redirect",
    "Step",
    "StepResponse",
    "StepResult",
    "flatten_errors",
    "submitted_data",
]
