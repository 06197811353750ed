"""The OpenAPI document describes the API, and real answers validate against it.

Each real answer is checked against the schema the document gives for its
operation and status code (so an undocumented status fails too). OpenAPI
3.1 schemas are JSON Schema 2020-12, so `jsonschema` validates them once
the document is registered as a resource its `#/components/...` refs
resolve in.
"""

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import override_settings
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from rest_framework.test import APIClient

from tests.conftest import COMPANY, CONFIRM, PROFILE, FlowClient

from .conftest import API, Response, back_url, flow_url, script_client

DOCUMENT_URI = "urn:pipelines-api"


@pytest.fixture(scope="module")
def document(django_db_blocker: Any) -> dict[str, Any]:
    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/")
    assert response.status_code == 200
    doc: dict[str, Any] = response.json()
    return doc


def validator_for(document: dict[str, Any], pointer: str) -> Draft202012Validator:
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(DOCUMENT_URI, resource)
    return Draft202012Validator({"$ref": f"{DOCUMENT_URI}{pointer}"}, registry=registry)


def component(document: dict[str, Any], name: str) -> Draft202012Validator:
    return validator_for(document, f"#/components/schemas/{name}")


def assert_documented(
    document: dict[str, Any], method: str, template: str, response: Response
) -> None:
    """`response` has a status the operation documents, and a body its schema allows."""
    operation = document["paths"][template][method.lower()]
    status = str(response.status_code)
    assert status in operation["responses"], f"{method} {template} does not document {status}"
    content = operation["responses"][status].get("content")
    if content is None:
        assert response.content == b""
        return
    escaped = template.replace("~", "~0").replace("/", "~1")
    pointer = (
        f"#/paths/{escaped}/{method.lower()}/responses/{status}/content/application~1json/schema"
    )
    validator_for(document, pointer).validate(response.json())


# -- the document -----------------------------------------------------------------------------


def test_schema_endpoint_answers_openapi_3_1_json(client: FlowClient) -> None:
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert "json" in response["Content-Type"]
    assert response.json()["openapi"] == "3.1.0"


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/api/pipelines/", {"get", "post"}),
        ("/api/pipelines/{id}/", {"get", "post", "delete"}),
        ("/api/pipelines/{id}/back/", {"post"}),
        ("/api/pipelines/callback/", {"get"}),
        ("/api/auth/csrf/", {"get"}),
        ("/api/auth/login/", {"post"}),
        ("/api/auth/logout/", {"post"}),
        ("/api/auth/me/", {"get"}),
    ],
)
def test_document_has_every_path_of_the_protocol(
    document: dict[str, Any], path: str, methods: set[str]
) -> None:
    assert methods <= set(document["paths"][path])


def test_descriptor_is_a_one_of_discriminated_by_kind(document: dict[str, Any]) -> None:
    descriptor = document["components"]["schemas"]["Descriptor"]
    assert descriptor["discriminator"]["propertyName"] == "kind"
    assert set(descriptor["discriminator"]["mapping"]) == {"form", "redirect", "complete", "error"}
    assert len(descriptor["oneOf"]) == 4


def test_error_envelope_is_documented(document: dict[str, Any]) -> None:
    envelope = document["components"]["schemas"]["ErrorEnvelope"]
    assert envelope["required"] == ["error"]
    body = document["components"]["schemas"]["ErrorBody"]
    assert {"code", "message", "errors", "restart"} <= set(body["properties"])


def test_the_component_schemas_are_valid_json_schema(document: dict[str, Any]) -> None:
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


# -- real answers against the document --------------------------------------------------------


def test_catalog_validates_against_the_catalog_component(
    client: FlowClient, document: dict[str, Any]
) -> None:
    component(document, "Catalog").validate(client.get(API).json())


def test_catalog_answer_is_documented_as_one_object(
    client: FlowClient, document: dict[str, Any]
) -> None:
    assert_documented(document, "GET", "/api/pipelines/", client.get(API))


def test_schema_is_served_to_a_client_asking_for_plain_json(db: None) -> None:
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.1")


def test_the_document_is_served_as_application_json_by_default(db: None) -> None:
    # "All bodies are JSON (Content-Type: application/json)."
    response = APIClient().get("/api/schema/")
    assert response.status_code == 200
    assert response["Content-Type"].split(";")[0] == "application/json"


def test_the_document_is_served_as_openapi_json_to_a_client_asking_for_it(db: None) -> None:
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert response["Content-Type"].split(";")[0] == "application/vnd.oai.openapi+json"


@pytest.mark.parametrize(
    ("method", "query", "headers", "status", "code"),
    [
        ("get", "?format=yaml", {"HTTP_AUTHORIZATION": "Token a b"}, 401, "authentication_failed"),
        (
            "get",
            "",
            {"HTTP_ACCEPT": "application/vnd.oai.openapi", "HTTP_AUTHORIZATION": "Token a b"},
            401,
            "authentication_failed",
        ),
        ("post", "?format=yaml", {}, 405, "method_not_allowed"),
        ("delete", "", {"HTTP_ACCEPT": "application/vnd.oai.openapi"}, 405, "method_not_allowed"),
    ],
)
def test_an_error_about_the_schema_is_the_json_envelope_whatever_format_was_asked(
    db: None, method: str, query: str, headers: dict[str, str], status: int, code: str
) -> None:
    response = getattr(APIClient(), method)(f"/api/schema/{query}", **headers)
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content)["error"]["code"] == code


def test_start_and_show_validate(client: FlowClient, document: dict[str, Any]) -> None:
    started = client.start()
    assert_documented(document, "POST", "/api/pipelines/", started)
    assert_documented(document, "GET", "/api/pipelines/{id}/", client.show(started.json()["id"]))


def test_every_step_and_completion_validate(client: FlowClient, document: dict[str, Any]) -> None:
    descriptor = client.start().json()
    for data in (PROFILE, COMPANY, CONFIRM):
        response = client.submit(descriptor, data)
        assert_documented(document, "POST", "/api/pipelines/{id}/", response)
        descriptor = response.json()
    assert descriptor["kind"] == "complete"
    component(document, "CompleteDescriptor").validate(descriptor)


def test_invalid_data_descriptor_validates(client: FlowClient, document: dict[str, Any]) -> None:
    response = client.submit(client.start().json(), {"email": "nope"})
    assert response.status_code == 400
    assert_documented(document, "POST", "/api/pipelines/{id}/", response)
    component(document, "Descriptor").validate(response.json())


def test_conflicts_validate(
    client: FlowClient, document: dict[str, Any], at_company: dict[str, Any]
) -> None:
    stale = client.post(flow_url(at_company["id"]), {"version": 1, "data": PROFILE})
    assert stale.status_code == 409
    assert_documented(document, "POST", "/api/pipelines/{id}/", stale)
    stale_back = client.post(back_url(at_company["id"]), {"version": 1})
    assert stale_back.status_code == 409
    assert_documented(document, "POST", "/api/pipelines/{id}/back/", stale_back)


def test_back_validates(
    client: FlowClient, document: dict[str, Any], at_company: dict[str, Any]
) -> None:
    assert_documented(document, "POST", "/api/pipelines/{id}/back/", client.back(at_company))


def test_a_finished_flows_conflicts_validate(
    client: FlowClient, document: dict[str, Any], at_confirm: dict[str, Any]
) -> None:
    done = client.submit(at_confirm, CONFIRM).json()
    assert_documented(document, "POST", "/api/pipelines/{id}/", client.submit(done, CONFIRM))
    assert_documented(document, "POST", "/api/pipelines/{id}/back/", client.back(done))
    assert_documented(document, "DELETE", "/api/pipelines/{id}/", client.cancel(done["id"]))


def test_the_error_kind_validates(
    user_client: FlowClient, other_client: FlowClient, other_user: Any, document: dict[str, Any]
) -> None:
    other_client.login("grace", "hopper-1906")
    theirs = other_client.start("identity", "dummy").json()
    other_client.submit(theirs, {"email": "shared@example.com"})
    mine = user_client.start("identity", "dummy").json()
    failed = user_client.submit(mine, {"email": "shared@example.com"})
    assert failed.json()["kind"] == "error"
    assert_documented(document, "POST", "/api/pipelines/{id}/", failed)
    component(document, "ErrorDescriptor").validate(failed.json())


def test_cancel_and_gone_validate(
    client: FlowClient, document: dict[str, Any], started: dict[str, Any]
) -> None:
    assert_documented(document, "DELETE", "/api/pipelines/{id}/", client.cancel(started["id"]))
    gone = client.show(started["id"])
    assert gone.status_code == 410
    assert_documented(document, "GET", "/api/pipelines/{id}/", gone)
    assert_documented(document, "POST", "/api/pipelines/{id}/", client.submit(started, PROFILE))


@pytest.mark.parametrize(
    ("method", "template", "call"),
    [
        ("POST", "/api/pipelines/", lambda c, f: c.post(API, {"provider": "default"})),
        ("POST", "/api/pipelines/", lambda c, f: c.start("nope")),
        ("POST", "/api/pipelines/", lambda c, f: c.start("onboarding", "nope")),
        ("POST", "/api/pipelines/", lambda c, f: c.start(return_to="https://evil.example/")),
        ("POST", "/api/pipelines/", lambda c, f: c.start(initial_data={"email": "x"})),
        ("POST", "/api/pipelines/", lambda c, f: c.raw.post(API, {}, format="json")),
        ("GET", "/api/pipelines/{id}/", lambda c, f: c.show("0" * 32)),
        ("POST", "/api/pipelines/{id}/", lambda c, f: c.post(flow_url(f["id"]), {"data": {}})),
        ("POST", "/api/pipelines/{id}/back/", lambda c, f: c.back(f)),
        (
            "GET",
            "/api/pipelines/callback/",
            lambda c, f: c.get(f"{API}callback/?state=x", HTTP_ACCEPT="application/json"),
        ),
        (
            "POST",
            "/api/auth/login/",
            lambda c, f: c.post("/api/auth/login/", {"username": "x", "password": "y"}),
        ),
    ],
)
def test_error_envelopes_validate(
    client: FlowClient,
    document: dict[str, Any],
    started: dict[str, Any],
    method: str,
    template: str,
    call: Any,
) -> None:
    response = call(client, started)
    assert response.status_code >= 400
    assert_documented(document, method, template, response)
    component(document, "ErrorEnvelope").validate(response.json())


def test_the_callback_documents_a_flow_deleted_while_its_step_ran(
    document: dict[str, Any],
) -> None:
    # As answered in identity/test_oauth2.py, when the purge comes as the provider answers.
    described = document["paths"]["/api/pipelines/callback/"]["get"]["responses"]["404"]
    assert "`pipeline_not_found`" in described["description"]


@pytest.mark.parametrize(
    ("method", "template"), [("post", "/api/pipelines/{id}/"), ("get", "/api/pipelines/callback/")]
)
def test_operations_that_run_a_step_document_state_too_large(
    document: dict[str, Any], method: str, template: str
) -> None:
    # A step may bind more than a flow may keep (a provider's long answer).
    described = document["paths"][template][method]["responses"]["413"]["description"]
    assert "`state_too_large`" in described


@pytest.mark.parametrize(
    ("template", "method"),
    [
        ("/api/pipelines/", "post"),
        ("/api/pipelines/{id}/", "post"),
        ("/api/pipelines/{id}/", "delete"),
        ("/api/pipelines/{id}/back/", "post"),
        ("/api/auth/login/", "post"),
        ("/api/auth/logout/", "post"),
    ],
)
def test_unsafe_operations_document_the_csrf_header_a_browser_client_must_send(
    document: dict[str, Any], template: str, method: str
) -> None:
    # "Every unsafe request (POST, DELETE) must carry Django's CSRF token in
    # the X-CSRFToken header": a client generated from the document must
    # learn it there, as a header parameter or a security scheme it uses.
    operation = document["paths"][template][method]
    headers = {
        parameter["name"].lower()
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "header"
    }
    schemes = document["components"].get("securitySchemes", {})
    csrf_schemes = {
        name
        for name, scheme in schemes.items()
        if scheme.get("in") == "header" and scheme.get("name", "").lower() == "x-csrftoken"
    }
    used = {name for requirement in operation.get("security", []) for name in requirement}
    assert "x-csrftoken" in headers or csrf_schemes & used, operation


def test_operations_that_read_document_no_csrf_header(document: dict[str, Any]) -> None:
    headers = {
        (path, method): parameter["name"]
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if method == "get"
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "header"
    }
    assert "X-CSRFToken" not in headers.values()
    assert ("/api/pipelines/{id}/", "get") in headers  # the flow token, beside it


def test_showing_a_flow_documents_no_csrf_or_body_failure(document: dict[str, Any]) -> None:
    # A GET has no body and no CSRF check: a 403 or 413 there cannot happen.
    documented = document["paths"]["/api/pipelines/{id}/"]["get"]["responses"]
    assert not {"403", "413", "415"} & set(documented)


def test_token_auth_start_validates(api_token: str, document: dict[str, Any]) -> None:
    api = script_client()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_token}")
    started = api.post(API, {"pipeline": "identity", "provider": "dummy"}, format="json")
    assert_documented(document, "POST", "/api/pipelines/", started)


def test_auth_answers_validate(client: FlowClient, user: Any, document: dict[str, Any]) -> None:
    assert_documented(document, "GET", "/api/auth/csrf/", client.get("/api/auth/csrf/"))
    assert_documented(document, "GET", "/api/auth/me/", client.get("/api/auth/me/"))
    assert_documented(document, "POST", "/api/auth/login/", client.login("ada", "lovelace-1815"))
    assert_documented(document, "GET", "/api/auth/me/", client.get("/api/auth/me/"))
    assert_documented(document, "POST", "/api/auth/logout/", client.post("/api/auth/logout/"))


# -- form schemas -----------------------------------------------------------------------------


def _forms_of_every_demo_step(client: FlowClient, user_client: FlowClient) -> list[dict[str, Any]]:
    forms = []
    descriptor = client.start().json()
    for data in (PROFILE, COMPANY, CONFIRM):
        forms.append(descriptor["form"])
        descriptor = client.submit(descriptor, data).json()
    forms.append(user_client.start("identity", "dummy").json()["form"])
    return forms


def test_every_form_schema_is_valid_json_schema_2020_12(
    client: FlowClient, other_client: FlowClient, user: Any
) -> None:
    other_client.login("ada", "lovelace-1815")
    forms = _forms_of_every_demo_step(client, other_client)
    assert len(forms) == 4
    for form in forms:
        assert form["schema"]["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        Draft202012Validator.check_schema(form["schema"])


def test_data_the_server_accepts_validates_against_the_form_schema(
    client: FlowClient, started: dict[str, Any]
) -> None:
    descriptor = started
    for data in (PROFILE, COMPANY, CONFIRM):
        Draft202012Validator(descriptor["form"]["schema"]).validate(data)
        descriptor = client.submit(descriptor, data).json()
    assert descriptor["kind"] == "complete"


def test_data_the_schema_forbids_is_refused_by_the_server(
    client: FlowClient, at_company: dict[str, Any]
) -> None:
    bad = {"company": "Analytical Engines", "size": "xl"}
    assert not Draft202012Validator(at_company["form"]["schema"]).is_valid(bad)
    assert client.submit(at_company, bad).status_code == 400


def test_document_generates_without_warnings_and_passes_the_openapi_schema(db: None) -> None:
    call_command("spectacular", "--fail-on-warn", "--validate", stdout=StringIO())


def test_the_headers_answers_carry_are_documented(
    client: FlowClient, document: dict[str, Any]
) -> None:
    """What a client reads beside the body: each header a real answer carries is documented."""
    started = client.start()
    answers = {
        ("post", "/api/pipelines/", "Location"): started,
        ("get", "/api/pipelines/callback/", "Location"): client.get(
            "/api/pipelines/callback/?state=forged"
        ),
        ("get", "/api/pipelines/{id}/", "WWW-Authenticate"): client.get(
            flow_url(started.json()["id"]), HTTP_AUTHORIZATION="Token nope"
        ),
    }
    for (method, template, header), answer in answers.items():
        assert answer.has_header(header), (template, answer.status_code)
        documented = document["paths"][template][method]["responses"][str(answer.status_code)]
        assert header in documented.get("headers", {}), (template, header)
    for path in document["paths"].values():
        for operation in path.values():
            for status in {"429", "503"} & set(operation["responses"]):
                assert "Retry-After" in operation["responses"][status]["headers"]


@override_settings(CORS_ALLOWED_ORIGINS=["http://localhost:5173"])
def test_an_app_on_another_origin_may_read_every_header_the_document_names(
    client: FlowClient, document: dict[str, Any]
) -> None:
    named = {
        header.lower()
        for path in document["paths"].values()
        for operation in path.values()
        for response in operation["responses"].values()
        for header in response.get("headers", {})
    }
    answer = client.get("/api/pipelines/", HTTP_ORIGIN="http://localhost:5173")
    exposed = {name.strip() for name in answer["Access-Control-Expose-Headers"].split(",")}
    assert named == {"location", "retry-after", "www-authenticate"}
    assert named <= exposed
