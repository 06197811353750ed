import dataclasses
import json
from datetime import UTC, datetime

from backend.pipeline.state import CANCELLED, FlowState, Frame


def nested_frame() -> Frame:
    child = Frame(
        pipeline="account",
        provider="github",
        step_index=1,
        signature="c",
        config={"scopes": ["read"]},
        data={"code": "x", "profile": {"login": "ada"}},
        provider_model_id="7",
        bind_key="identity",
    )
    return Frame(
        pipeline="integration",
        provider="slack",
        step_index=2,
        signature="p",
        config={"team": "t"},
        data={"team": {"id": 1}},
        child=child,
    )


def test_to_json_holds_every_field_of_every_frame_in_the_stack() -> None:
    frame = nested_frame()

    assert frame.to_json() == dataclasses.asdict(frame)


def test_a_frame_survives_json_and_back() -> None:
    frame = nested_frame()

    assert Frame.from_json(json.loads(json.dumps(frame.to_json()))) == frame


def ended_state(frame: Frame) -> FlowState:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return FlowState(id="0" * 32, frame=frame, created_at=now, updated_at=now, expires_at=now)


def test_an_ended_flow_drops_what_every_level_bound_and_keeps_where_it_stopped() -> None:
    state = ended_state(nested_frame())

    state.drop_bound()

    kept = nested_frame()
    kept.data = {}
    assert kept.child is not None
    kept.child.data = {}
    assert state.frame == kept


def test_a_cancelled_flow_keeps_nothing_its_steps_bound() -> None:
    state = ended_state(nested_frame())

    state.cancel()

    assert state.status == CANCELLED
    assert state.frame.data == {}
    assert state.frame.child is not None
    assert state.frame.child.data == {}
