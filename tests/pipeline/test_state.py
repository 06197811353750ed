import dataclasses
import json

from backend.pipeline.state import Frame


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
