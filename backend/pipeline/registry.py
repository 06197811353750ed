"""The pipeline types the API serves, from the `PIPELINE_CLASSES` setting."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from .conf import conf
from .errors import UnknownPipeline

if TYPE_CHECKING:
    from .base import Pipeline


@functools.cache
def _pipelines() -> dict[str, type[Pipeline]]:
    classes: list[type[Pipeline]] = [import_string(path) for path in conf.CLASSES]
    return {cls.pipeline_name: cls for cls in classes}


def all_pipelines() -> list[type[Pipeline]]:
    return list(_pipelines().values())


def get_pipeline_class(name: object) -> type[Pipeline]:
    pipeline_cls = _pipelines().get(name) if isinstance(name, str) else None
    if pipeline_cls is None:
        raise UnknownPipeline()
    return pipeline_cls


@receiver(setting_changed)
def _reset(*, setting: str, **kwargs: Any) -> None:
    if setting == "PIPELINE_CLASSES":
        _pipelines.cache_clear()
