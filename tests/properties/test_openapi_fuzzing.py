"""Schemathesis against the published OpenAPI document: no 500, every answer documented.

Every operation of `/api/schema/` gets generated requests, schema-valid and
schema-violating ones (schemathesis' positive and negative modes, with its
coverage phase of boundary values, missing fields and undeclared methods),
sent in-process to Django's WSGI application. The answers must:

* never be a server error;
* have a status code the operation documents, a documented content type,
  a body that validates against the documented schema, documented headers;
* reject a request that violates the document (4xx), and answer 405 with
  `Allow` to a method the path does not declare.

So that requests get past the first checks, every one carries the
`Authorization: Token` of a test user (CSRF-exempt, as the protocol says),
and most generated flow ids are replaced with real flows of that user, in
different states (fresh, part way, complete, cancelled, expired, of each
pipeline); half of those also get the flow's current `version`, and some
positive submits the data their step accepts, so that steps really move
and flows really finish. Starts are sometimes aimed at a real pipeline.

The examples are derandomized and no example database is used, so a run
is reproducible. `positive_data_acceptance` is left out on purpose: a
schema-valid request may rightly be refused (an unknown pipeline is 404,
wrong credentials are 400, an invalid step is 400 with its errors).

The requests go through the real WSGI handler (not Django's test client),
which closes the database connection after each request; the test uses
the `transactional_db` fixture so that this is harmless.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
import time_machine
from django.utils import timezone
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from backend.config.wsgi import application
from backend.pipeline.conf import conf
from tests.conftest import COMPANY, CONFIRM, PROFILE

MAX_EXAMPLES = 40

CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {
            "mode": "all",
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "database": "none",
        },
    }
)
schema = schemathesis.openapi.from_wsgi("/api/schema/", application, config=CONFIG)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
    unsupported_method,
]

API = "/api/pipelines/"
#: The inputs that move each onboarding step.
ONBOARDING_DATA = (PROFILE, COMPANY, CONFIRM)
#: (pipeline, provider, data of its first step) of every pipeline the demo serves.
CATALOG = (
    ("onboarding", "default", PROFILE),
    ("identity", "dummy", {"email": "fuzz@example.com"}),
    ("integration", "example", {"name": "Fuzzed"}),
)
#: The flow a generated `id` is replaced with, by the id's checksum.
SCENARIOS = (
    "generated",
    "onboarding at profile",
    "onboarding at company",
    "onboarding at confirm",
    "onboarding complete",
    "onboarding cancelled",
    "onboarding expired",
    "identity fresh",
    "integration fresh",
    "integration complete",
)


@dataclass
class Flow:
    id: str
    version: int
    #: The data the flow's current step accepts (None: it cannot move).
    accepts: dict[str, Any] | None


class FuzzEnv:
    """A test user with an API token, who starts flows for the generated requests."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.headers = {"Authorization": f"Token {token}"}

    def _client(self) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {self.token}")
        return client

    def _start(self, pipeline: str, provider: str) -> dict[str, Any]:
        response = self._client().post(
            API, {"pipeline": pipeline, "provider": provider}, format="json"
        )
        assert response.status_code == 201, response.content
        descriptor: dict[str, Any] = response.json()
        return descriptor

    def _submit(self, descriptor: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        body = {"version": descriptor["step"]["version"], "data": data}
        response = self._client().post(f"{API}{descriptor['id']}/", body, format="json")
        assert response.status_code == 200, response.content
        moved: dict[str, Any] = response.json()
        return moved

    def flow(self, scenario: str) -> Flow:
        """A new flow of the user, in the state `scenario` names."""
        if scenario == "onboarding expired":
            long_ago = timezone.now() - timedelta(seconds=conf.TTL + 60)
            with time_machine.travel(long_ago, tick=False):
                descriptor = self._start("onboarding", "default")
            return Flow(descriptor["id"], descriptor["step"]["version"], PROFILE)
        name, state = scenario.split(" ", 1)
        pipeline, provider, first = next(entry for entry in CATALOG if entry[0] == name)
        descriptor = self._start(pipeline, provider)
        if name == "onboarding":
            steps = {"at profile": 0, "at company": 1, "at confirm": 2, "complete": 3}
            steps["cancelled"] = 0
            for data in ONBOARDING_DATA[: steps[state]]:
                descriptor = self._submit(descriptor, data)
            accepts = ONBOARDING_DATA[steps[state]] if steps[state] < 3 else None
        elif state == "complete":
            descriptor = self._submit(descriptor, first)
            accepts = None
        else:
            accepts = first
        if state == "cancelled":
            response = self._client().delete(f"{API}{descriptor['id']}/")
            assert response.status_code == 204, response.content
            accepts = None
        return Flow(descriptor["id"], descriptor["step"]["version"], accepts)

    def prepare(self, case: schemathesis.Case[Any]) -> dict[str, str]:
        """Point the generated request at real flows and pipelines; the headers to send.

        Deterministic: every choice is made from a checksum of generated values.
        """
        self._retarget(case)
        # Schemathesis re-classifies an edited case (positive or negative) when its
        # metadata is read, and freezes the metadata once the request is prepared.
        case.meta  # noqa: B018
        headers = dict(self.headers)
        if case.path == f"{API}callback/":
            # Half the callbacks as a script would make them (the JSON answers),
            # half as a browser (a redirect whatever happens).
            query = json.dumps(case.query, default=str, sort_keys=True)
            if zlib.crc32(query.encode("utf-8", "surrogatepass")) % 2 == 0:
                headers["Accept"] = "application/json"
        return headers

    def _retarget(self, case: schemathesis.Case[Any]) -> None:
        operation = f"{case.method.upper()} {case.path}"
        if "{id}" in case.path and case.path_parameters:
            generated = json.dumps(case.path_parameters.get("id"), default=str)
            checksum = zlib.crc32(generated.encode("utf-8", "surrogatepass"))
            scenario = SCENARIOS[checksum % len(SCENARIOS)]
            if scenario == "generated":
                return
            flow = self.flow(scenario)
            case.path_parameters["id"] = flow.id
            body = case.body
            if isinstance(body, dict) and (checksum >> 8) % 2 == 0:
                body["version"] = flow.version
                positive = case.meta is not None and case.meta.generation.mode.is_positive
                if "data" in body and flow.accepts is not None and positive:
                    body["data"] = dict(flow.accepts)
        elif operation == f"POST {API}" and isinstance(case.body, dict):
            checksum = zlib.crc32(json.dumps(case.body, default=str).encode("utf-8", "replace"))
            if checksum % 3 == 0:
                pipeline, provider, _first = CATALOG[(checksum >> 8) % len(CATALOG)]
                case.body.update(pipeline=pipeline, provider=provider)


@pytest.fixture
def fuzz_env(transactional_db: None, settings: Any, django_user_model: Any) -> FuzzEnv:
    # Flows pile up over the examples; the limit has tests of its own.
    settings.PIPELINE_MAX_ACTIVE_FLOWS = 1_000_000
    user = django_user_model.objects.create_user(username="fuzzer", password="fuzz-fuzz-1815")
    return FuzzEnv(Token.objects.create(user=user).key)


@schema.parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_every_operation_answers_as_documented(
    case: schemathesis.Case[Any], fuzz_env: FuzzEnv
) -> None:
    headers = fuzz_env.prepare(case)
    case.call_and_validate(headers=headers, checks=CHECKS)
