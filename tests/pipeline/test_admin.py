"""Flows are visible in the Django admin, and nothing there can change them (they can go)."""

from typing import Any

from django.test import Client

from backend.pipeline.models import Flow
from tests.conftest import FlowClient


def test_flows_are_listed_and_shown(admin_browser: Client, client: FlowClient) -> None:
    client.start()
    flow = Flow.objects.get()
    assert admin_browser.get("/admin/pipeline/flow/").status_code == 200
    shown = admin_browser.get(f"/admin/pipeline/flow/{flow.pk}/change/")
    assert shown.status_code == 200
    assert b'name="_save"' not in shown.content


def test_a_flows_bound_state_is_shown_by_its_keys_only(
    admin_browser: Client, client: FlowClient
) -> None:
    started = client.start().json()
    client.submit(started, {"email": "ada@example.com", "name": "Ada Secret-Value"})
    flow = Flow.objects.get()
    shown = admin_browser.get(f"/admin/pipeline/flow/{flow.pk}/change/")
    assert shown.status_code == 200
    assert b"profile" in shown.content
    assert b"Secret-Value" not in shown.content


def test_a_flows_config_is_shown_by_its_keys_only(
    admin_browser: Client, client: FlowClient
) -> None:
    # A pipeline's config may carry a provider's client secret.
    client.start()
    Flow.objects.update(config={"oauth_client_secret": "Secret-Value"})
    shown = admin_browser.get(f"/admin/pipeline/flow/{Flow.objects.get().pk}/change/")
    assert shown.status_code == 200
    assert b"oauth_client_secret" in shown.content
    assert b"Secret-Value" not in shown.content


def test_flows_cannot_be_added(admin_browser: Client) -> None:
    assert admin_browser.get("/admin/pipeline/flow/add/").status_code == 403


def test_flows_cannot_be_changed(admin_browser: Client, client: FlowClient) -> None:
    client.start()
    flow = Flow.objects.get()
    response = admin_browser.post(
        f"/admin/pipeline/flow/{flow.pk}/change/", {"status": "complete", "step_index": 2}
    )
    assert response.status_code == 403
    flow.refresh_from_db()
    assert (flow.status, flow.step_index) == ("active", 0)


def test_a_user_who_has_flows_can_be_deleted_and_the_flows_go_too(
    admin_browser: Client, client: FlowClient, django_user_model: Any
) -> None:
    client.start()
    grace = django_user_model.objects.create_user("grace", password="not-used")
    Flow.objects.update(user=grace)

    response = admin_browser.post(f"/admin/auth/user/{grace.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302, response.content
    assert not django_user_model.objects.filter(pk=grace.pk).exists()
    assert not Flow.objects.exists()
