"""Schemathesis against the live schema: every operation, generated requests (bounded), with a
key that reaches the organisation in the path (and real document and job ids), so requests get
past the 404 and into each endpoint. No 5xx; every answer's status, content type, headers and
body conform to the schema. An operation whose address exists (only the organisation in the
path) never answers 404, whatever its query parameters: a bad one is a 400 naming it."""
import os
from contextlib import contextmanager

import pytest
import schemathesis
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, given, settings as hsettings
from schemathesis import checks

from xero_connect.models import BulkJob, HostCategory, WebhookDelivery

from .test_documents import invoice, post

CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_schema_conformance, checks.response_headers_conformance]
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "25"))  # bounded; raise it for a deeper run

SCHEMA = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", get_wsgi_application())
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]


@contextmanager
def database_kept_open():
    """The WSGI handler closes the connection around each request; Django's test client stops
    it doing so (and turns it back on after each of its own requests), and so must we: the
    test's transaction holds the data."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    try:
        yield
    finally:
        for signal in (request_started, request_finished):
            signal.connect(close_old_connections)


def test_every_operation_is_covered():
    assert len(OPERATIONS) >= 20


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.label)
def test_operation_conforms_and_never_answers_5xx(operation, api, org, org_key, settings):
    settings.API_RATE_PER_MINUTE = 100_000
    cache.clear()
    doc_id = post(api, [invoice("INV-1")]).json()["results"][0]["id"]
    job_id = BulkJob.objects.create(organisation=org, kind=BulkJob.Kind.EXPORT_SELECTED).pk
    endpoint = api.post("/api/v1/organisations/acme/webhooks/", {"url": "http://127.0.0.1:9/h"}, format="json").json()
    delivery = WebhookDelivery.objects.create(endpoint_id=endpoint["id"], organisation=org, message_id="msg_1",
                                              event_type="document.failed", payload={"type": "document.failed"})
    category_id = HostCategory.objects.create(organisation=org, kind=HostCategory.Kind.SALES, code="COFFEE").pk
    ids = {"jobs": job_id, "webhooks": endpoint["id"], "webhook-deliveries": delivery.pk, "documents": doc_id,
           "categories": category_id}
    headers = {"Authorization": f"Api-Key {org_key[1]}"}

    @hsettings(max_examples=EXAMPLES, deadline=None, database=None,
               suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def run(case):
        if case.path_parameters:
            if "org" in case.path_parameters:
                case.path_parameters["org"] = org.slug
            for name in ("pk", "id"):  # drf-spectacular names a <int:pk> path parameter "id"
                if name in case.path_parameters:
                    case.path_parameters[name] = next(v for k, v in ids.items() if f"/{k}/" in operation.path)
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        if not set(case.path_parameters or {}) - {"org"}:  # the address exists: a 404 would blame a parameter
            assert response.status_code != 404, (case.query, response.text[:300])

    with database_kept_open():
        run()
