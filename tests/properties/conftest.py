"""Shared by the property-based tests: the published OpenAPI document as an oracle.

Every answer a property test gets is checked against the document served
at `/api/schema/`: its status must be one the operation documents, and its
body must validate against the schema the document gives for that status
(no body where none is documented). OpenAPI 3.1 schemas are JSON Schema
2020-12, so `jsonschema` validates them once the document is registered
as a resource its `#/components/...` refs resolve in (as in
`tests/pipeline/api/test_schema.py`).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from rest_framework.test import APIClient

if TYPE_CHECKING:
    from rest_framework.response import _MonkeyPatchedResponse as Response

DOCUMENT_URI = "urn:pipelines-api"


class OpenApi:
    """The document, with a validator per response schema, built once each."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        self._registry: Registry[Any] = Registry().with_resource(DOCUMENT_URI, resource)
        self._validators: dict[str, Draft202012Validator] = {}

    def validator(self, pointer: str) -> Draft202012Validator:
        validator = self._validators.get(pointer)
        if validator is None:
            validator = Draft202012Validator(
                {"$ref": f"{DOCUMENT_URI}{pointer}"}, registry=self._registry
            )
            self._validators[pointer] = validator
        return validator

    def component(self, name: str) -> Draft202012Validator:
        return self.validator(f"#/components/schemas/{name}")

    def assert_documented(self, method: str, template: str, response: Response) -> Any:
        """Check `response` against the operation; answer its JSON body (None if empty)."""
        status = response.status_code
        assert status < 500, f"{method} {template}: server error {status}: {response.content!r}"
        operation = self.document["paths"][template][method.lower()]
        assert str(status) in operation["responses"], (
            f"{method} {template} answered {status}, which it does not document: "
            f"{response.content!r}"
        )
        content = operation["responses"][str(status)].get("content")
        if content is None:
            assert response.content == b"", f"{method} {template} {status}: unexpected body"
            return None
        assert response["Content-Type"].split(";")[0].strip() in content, response["Content-Type"]
        body = json.loads(response.content)
        escaped = template.replace("~", "~0").replace("/", "~1")
        pointer = (
            f"#/paths/{escaped}/{method.lower()}/responses/{status}"
            "/content/application~1json/schema"
        )
        errors = sorted(self.validator(pointer).iter_errors(body), key=str)
        assert not errors, f"{method} {template} {status} does not match the document: " + (
            "; ".join(f"{list(error.absolute_path)}: {error.message}" for error in errors[:3])
        )
        return body


@pytest.fixture(scope="session")
def openapi(django_db_setup: None, django_db_blocker: Any) -> OpenApi:
    """The document the server publishes, fetched once per test session."""
    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200, response.content
    document: dict[str, Any] = response.json()
    return OpenApi(document)
