"""Form steps, late-bound and conditional steps, and going back."""

import dataclasses
from typing import Any

import pytest
from rest_framework import serializers

from backend.pipeline.steps import PipelineView, as_json, signature_of
from tests.conftest import FlowClient
from tests.pipeline.conftest import session_request
from tests.pipeline.examples import DynamicPipeline

pytestmark = pytest.mark.usefixtures("examples")


def _names(descriptor: dict[str, Any]) -> list[str]:
    return [action["name"] for action in descriptor["actions"]]


def test_late_bound_steps_count_in_total_once_built(client: FlowClient) -> None:
    started = client.start("dynamic", "late").json()
    assert started["step"]["total"] == 3  # count, palette, colour: no items yet

    first_item = client.submit(started, {"count": 2}).json()
    assert first_item["step"]["name"] == "item_0"
    assert (first_item["step"]["index"], first_item["step"]["total"]) == (1, 5)
    second_item = client.submit(first_item, {"name": "a"}).json()
    assert second_item["step"]["name"] == "item_1"


def test_late_bound_step_builds_its_choices_from_earlier_state(client: FlowClient) -> None:
    descriptor = client.start("dynamic", "late").json()
    descriptor = client.submit(descriptor, {"count": 0}).json()
    assert descriptor["step"]["name"] == "palette"
    colour = client.submit(descriptor, {"colours": ["red", "blue"]}).json()

    assert colour["step"]["name"] == "colour"
    assert colour["form"]["schema"]["properties"]["colour"]["enum"] == ["red", "blue"]
    assert list(colour["form"]["schema"]["properties"]) == ["colour"]  # not the hidden field
    refused = client.submit(colour, {"colour": "grey", "chosen_from": "forged"})
    assert refused.status_code == 400
    assert refused.json()["form"]["data"] == {"colour": "grey"}
    done = client.submit(colour, {"colour": "blue"}).json()
    assert done["result"]["colour"] == {"colour": "blue"}


def test_conditional_step_is_skipped_while_its_condition_is_false(client: FlowClient) -> None:
    started = client.start("dynamic", "conditional").json()
    assert started["step"]["total"] == 2

    confirm = client.submit(started, {"kind": "personal"}).json()
    assert confirm["step"]["name"] == "confirm"
    assert confirm["step"]["total"] == 2


def test_conditional_step_is_taken_once_its_condition_holds(client: FlowClient) -> None:
    started = client.start("dynamic", "conditional").json()
    company = client.submit(started, {"kind": "business"}).json()
    assert company["step"]["name"] == "company"
    assert (company["step"]["index"], company["step"]["total"]) == (1, 3)


def test_a_completed_flow_counts_the_steps_it_took_though_its_state_is_gone(
    client: FlowClient,
) -> None:
    # The condition reads state a completed flow no longer keeps.
    started = client.start("dynamic", "conditional").json()
    company = client.submit(started, {"kind": "business"}).json()
    confirm = client.submit(company, {"company": "Analytical Engines"}).json()
    done = client.submit(confirm, {}).json()

    assert done["status"] == "complete"
    assert (done["step"]["index"], done["step"]["total"]) == (3, 3)
    assert client.show(done["id"]).json() == done


def test_a_completed_flow_shows_no_step_though_its_conditions_now_hold(
    client: FlowClient,
) -> None:
    # With nothing bound, the company step counts again: the flow must not show it.
    started = client.start("dynamic", "unless_personal").json()
    confirm = client.submit(started, {"kind": "personal"}).json()
    assert confirm["step"]["name"] == "confirm"
    done = client.submit(confirm, {}).json()

    shown = client.show(done["id"]).json()
    assert shown == done
    assert (shown["step"]["name"], shown["step"]["index"], shown["step"]["total"]) == (None, 2, 2)
    assert [level["name"] for level in shown["step"]["path"]] == [None]


def test_a_failed_flow_is_told_as_it_stood_when_it_failed_though_its_state_is_gone(
    client: FlowClient,
) -> None:
    # Without the kind bound, the company step would not be counted, and
    # index 1 would be the confirm step.
    started = client.start("dynamic", "conditional").json()
    company = client.submit(started, {"kind": "business"}).json()
    found = DynamicPipeline.get_for_request(session_request(client.raw))
    assert found is not None
    found.error("The company register is closed.", code="register_closed")

    shown = client.show(company["id"]).json()
    assert (shown["status"], shown["kind"]) == ("failed", "error")
    assert (shown["step"]["name"], shown["step"]["index"], shown["step"]["total"]) == (
        "company",
        1,
        3,
    )
    assert shown["step"]["path"] == company["step"]["path"]


def test_back_prefills_what_the_step_bound_and_then_takes_new_input(
    client: FlowClient,
) -> None:
    started = client.start("dynamic", "conditional").json()
    company = client.submit(started, {"kind": "business"}).json()
    back = client.back(company).json()

    assert back["step"]["name"] == "kind"
    assert back["form"]["data"] == {"kind": "business"}
    assert back["step"]["version"] == company["step"]["version"] + 1
    confirm = client.submit(back, {"kind": "personal"}).json()
    assert confirm["step"]["name"] == "confirm"
    assert confirm["step"]["total"] == 2


def test_a_step_may_forbid_going_back(client: FlowClient) -> None:
    started = client.start("dynamic", "conditional").json()
    confirm = client.submit(started, {"kind": "personal"}).json()
    assert _names(confirm) == ["submit", "cancel"]
    refused = client.back(confirm)
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "back_not_allowed"


def test_invalid_input_binds_nothing_and_keeps_the_step(client: FlowClient) -> None:
    started = client.start("dynamic", "late").json()
    refused = client.submit(started, {"count": 9})
    assert refused.status_code == 400
    body = refused.json()
    assert body["step"] == started["step"]
    assert body["form"]["data"] == {"count": 9}
    assert body["errors"] == [
        {
            "code": "max_value",
            "message": "Ensure this value is less than or equal to 3.",
            "field": "count",
        }
    ]
    assert client.show(started["id"]).json()["step"] == started["step"]


def test_form_data_shows_only_the_form_fields_of_invalid_input(client: FlowClient) -> None:
    started = client.start("dynamic", "late").json()
    refused = client.submit(started, {"count": "x", "extra": "<script>"}).json()
    assert refused["form"]["data"] == {"count": "x"}


def test_form_view_binds_write_only_fields_too() -> None:
    class Credentials(serializers.Serializer[Any]):
        username = serializers.CharField()
        password = serializers.CharField(write_only=True, style={"input_type": "password"})
        since = serializers.DateField(write_only=True)

    serializer = Credentials(data={"username": "ada", "password": "s3cret", "since": "1843-01-01"})
    assert serializer.is_valid()
    assert as_json(serializer) == {"username": "ada", "password": "s3cret", "since": "1843-01-01"}


def test_form_view_binds_write_only_fields_of_nested_forms_too() -> None:
    class Address(serializers.Serializer[Any]):
        street = serializers.CharField()
        door_code = serializers.CharField(write_only=True)

    class Person(serializers.Serializer[Any]):
        name = serializers.CharField()
        address = Address()
        previous = Address(many=True)

    given = {
        "name": "Ada",
        "address": {"street": "St James's Square", "door_code": "1815"},
        "previous": [{"street": "Marylebone", "door_code": "42"}],
    }
    serializer = Person(data=given)
    assert serializer.is_valid()
    bound = as_json(serializer)
    assert bound == given
    assert Person(data=bound).is_valid()  # a prefill after a back can be sent again


def test_form_view_binds_fields_with_a_dotted_source_given_whole_or_in_part() -> None:
    class Contact(serializers.Serializer[Any]):
        city = serializers.CharField(source="address.city")
        door_code = serializers.CharField(source="address.door_code", write_only=True)

    whole = Contact(data={"city": "London", "door_code": "1815"})
    assert whole.is_valid()
    assert as_json(whole) == {"city": "London", "door_code": "1815"}
    part = Contact(data={"city": "London"}, partial=True)  # as initial data is read
    assert part.is_valid()
    assert as_json(part) == {"city": "London"}


class _Moment(serializers.Serializer[Any]):
    when = serializers.DateTimeField(format=None)


class _TimeOfDay(serializers.Serializer[Any]):
    when = serializers.TimeField(format=None)


class _Day(serializers.Serializer[Any]):
    when = serializers.DateField(format=None)


@pytest.mark.parametrize(
    ("form", "given"),
    [
        (_Moment, "2026-01-02T03:04:05.123456Z"),
        (_TimeOfDay, "03:04:05.123456"),
        (_Day, "2026-01-02"),
    ],
)
def test_form_view_binds_a_date_or_time_as_iso_text_to_the_microsecond(
    form: type[serializers.Serializer[Any]], given: str
) -> None:
    serializer = form(data={"when": given})
    assert serializer.is_valid()

    bound = as_json(serializer)

    assert isinstance(bound["when"], str)
    again = form(data=bound)
    assert again.is_valid()
    assert again.validated_data == serializer.validated_data


def test_form_view_binds_no_hidden_field_the_server_set() -> None:
    class Signed(serializers.Serializer[Any]):
        name = serializers.CharField()
        signed_by = serializers.HiddenField(default="the server")

    serializer = Signed(data={"name": "ada", "signed_by": "someone"})
    assert serializer.is_valid()
    assert as_json(serializer) == {"name": "ada"}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"length": "nan"}, "length"),
        ({"length": "1e400"}, "length"),
        ({"length": 1.5, "readings": [2.0, "-inf"]}, "readings.1"),
    ],
)
def test_a_number_json_cannot_carry_is_refused_and_the_flow_stays(
    client: FlowClient, data: dict[str, Any], field: str
) -> None:
    started = client.start("measure", "measure").json()

    refused = client.submit(started, data)

    assert refused.status_code == 400
    assert refused.json()["errors"] == [
        {"code": "invalid", "message": "Enter a finite number.", "field": field}
    ]
    assert client.show(started["id"]).json()["step"]["version"] == started["step"]["version"]
    done = client.submit(started, {"length": 1.5, "readings": [2.0]}).json()
    assert done["result"] == {"length": 1.5, "readings": [2.0]}


def test_form_view_binds_a_binary_json_field_as_the_json_text_it_takes() -> None:
    class Settings(serializers.Serializer[Any]):
        options = serializers.JSONField(binary=True)

    serializer = Settings(data={"options": '{"a": 1}'})
    assert serializer.is_valid()
    bound = as_json(serializer)
    assert bound == {"options": '{"a": 1}'}
    again = Settings(data=bound)
    assert again.is_valid()
    assert again.validated_data == {"options": {"a": 1}}


@pytest.mark.parametrize("coerce_to_string", [True, False])
@pytest.mark.parametrize(
    ("given", "bound"), [(1.5, "1.50000000"), ("0.0000001", "0.00000010")]
)  # str() gives "1.0E-7" for the second, which no form takes
def test_form_view_binds_a_decimal_as_its_string_as_the_flow_keeps_it(
    coerce_to_string: bool, given: Any, bound: str
) -> None:
    class Price(serializers.Serializer[Any]):
        amount = serializers.DecimalField(10, 8, coerce_to_string=coerce_to_string)

    serializer = Price(data={"amount": given})
    assert serializer.is_valid()
    assert as_json(serializer) == {"amount": bound}


def test_form_view_binds_multiple_choices_as_a_json_list() -> None:
    class Topics(serializers.Serializer[Any]):
        topics = serializers.MultipleChoiceField(choices=["news", "tips", "jobs"])
        nested = serializers.DictField(child=serializers.MultipleChoiceField(choices=["a", "b"]))

    serializer = Topics(data={"topics": ["tips", "news"], "nested": {"x": ["b", "a"]}})
    assert serializer.is_valid()
    assert as_json(serializer) == {"topics": ["news", "tips"], "nested": {"x": ["a", "b"]}}


class _CountedStep(PipelineView):
    def __init__(self, name: str) -> None:
        self.name = name
        self.described = 0

    def signature_part(self) -> str:
        self.described += 1
        return super().signature_part()


@dataclasses.dataclass
class _UnhashableStep(PipelineView):
    name: str = "plain"


def test_the_signature_of_a_list_of_steps_is_computed_once() -> None:
    steps = (_CountedStep("a"), _CountedStep("b"))
    first = signature_of(steps)
    assert signature_of(list(steps)) == first
    assert [step.described for step in steps] == [1, 1]
    assert signature_of((_CountedStep("a"), _CountedStep("c"))) != first


def test_steps_that_cannot_be_hashed_still_have_a_signature() -> None:
    assert signature_of([_UnhashableStep()]) == signature_of([_UnhashableStep()])
