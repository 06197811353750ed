from io import StringIO

import time_machine
from django.core.management import call_command

from backend.pipeline.models import Flow
from tests.conftest import FlowClient


def test_clearpipelines_deletes_expired_flows_only(
    client: FlowClient, clock: time_machine.Traveller
) -> None:
    old = client.start().json()
    clock.shift(1800)
    fresh = client.start().json()
    clock.shift(1801)

    out = StringIO()
    call_command("clearpipelines", stdout=out)

    assert out.getvalue().strip() == "Deleted 1 expired flow(s)."
    assert [flow_id.hex for flow_id in Flow.objects.values_list("id", flat=True)] == [fresh["id"]]
    assert not Flow.objects.filter(pk=old["id"]).exists()
