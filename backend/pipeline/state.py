"""What a flow is made of, independent of where it is stored.

A flow is a stack of frames: the outermost pipeline's frame, and while a
nested pipeline runs, its frame as the `child` of its parent's (and so
on). Keeping the whole stack in one record is what lets a single
compare-and-set cover a step of a nested pipeline and its parent alike.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

_FLOW_ID = re.compile(r"[0-9a-f]{32}")


def is_flow_id(value: object) -> bool:
    """Whether `value` is a flow id as flows are given out: 32 lowercase hex digits.

    The stores look up nothing else, so that one flow has one URL, and an
    absurd id costs no query.
    """
    return isinstance(value, str) and _FLOW_ID.fullmatch(value) is not None


ACTIVE = "active"
COMPLETE = "complete"
FAILED = "failed"
CANCELLED = "cancelled"
STATUSES = (ACTIVE, COMPLETE, FAILED, CANCELLED)

#: The longest `return_to` a flow keeps, percent-encoded: a URL past it is refused at the start.
MAX_RETURN_TO_LENGTH = 2048


@dataclass
class Frame:
    pipeline: str
    provider: str
    step_index: int = 0
    signature: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    provider_model_id: str = ""
    bind_key: str = ""
    child: Frame | None = None

    def to_json(self) -> dict[str, Any]:
        """The frame as plain dicts, to be serialized at once.

        `config` and `data` are the frame's own, not copies: every caller
        turns the result into JSON before anything changes, and the deep
        copy that `dataclasses.asdict` makes was most of what turning a
        flow into JSON cost.
        """
        raw = {name: getattr(self, name) for name in _FRAME_FIELDS}
        raw["child"] = self.child.to_json() if self.child else None
        return raw

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Frame:
        values = dict(raw)
        child = values.pop("child", None)
        return cls(**values, child=cls.from_json(child) if child else None)


_FRAME_FIELDS = tuple(frame_field.name for frame_field in dataclasses.fields(Frame))


@dataclass
class FlowState:
    id: str
    frame: Frame
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    version: int = 1
    status: str = ACTIVE
    result: Any = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    user_id: int | None = None
    token_hash: str = ""
    session_hash: str = ""
    return_to: str = ""
    #: Hash of the callback state the flow waits for ("" when none).
    callback_hash: str = ""
    #: A failed flow's `step.path` as it stood when it failed: worked out
    #: from the state it then dropped, it could not be worked out again.
    final_path: list[dict[str, Any]] | None = None
    #: The flow as the store read (or created) it, in the store's own form, if
    #: the store keeps it: one that cannot roll back puts it back after a
    #: failed finish (`FlowStore.restore`). Not part of the flow.
    snapshot: Any = field(default=None, compare=False, repr=False)

    @property
    def pipeline(self) -> str:
        return self.frame.pipeline

    @property
    def provider(self) -> str:
        return self.frame.provider

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at <= now

    def cancel(self) -> None:
        self.status = CANCELLED
        self.drop_bound()

    def drop_bound(self) -> None:
        """Forget what the steps bound, at every level: the flow has ended.

        What users typed and what providers gave (access tokens) serves only
        to reach the end. An ended flow, whatever the end, keeps what
        describes it: its status, result or errors, and where it stopped
        (its frames' positions; a failed one, its `final_path`).
        """
        frame: Frame | None = self.frame
        while frame is not None:
            frame.data = {}
            frame = frame.child
