"""The reconciliation's doors (management command, portal bulk action, admin action, nightly
schedule) and the portal's per-organisation count of documents changed in Xero."""
import json
import re
from io import StringIO

import pytest
import responses
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

from tests import factories
from tests.drift.test_webhooks_in import exported, xero_invoice  # noqa: F401 (fixture)
from xero_connect.models import BulkJob, ReconciliationRun, Role, XeroDrift
from xero_connect.services import drift, portal
from xero_connect.tasks.schedules import SCHEDULES

API = settings.XERO_API_URL.rstrip("/")


@pytest.fixture(autouse=True)
def fast():
    with override_settings(XERO_LIMIT_MINUTE_SECONDS=0.3):
        yield


def xero_pages(rsps, invoices=(), seen=None):
    def answer(resource, items):
        def callback(request):
            if seen is not None:
                seen.append((resource, request.headers.get("If-Modified-Since")))
            return 200, {}, json.dumps({resource: list(items), "pagination": {"page": 1, "pageSize": 1000,
                                                                               "pageCount": 1, "itemCount": len(items)}})
        return callback
    rsps.add_callback("GET", re.compile(rf"{re.escape(API)}/Invoices\?.*"), callback=answer("Invoices", invoices))
    rsps.add_callback("GET", re.compile(rf"{re.escape(API)}/CreditNotes\?.*"), callback=answer("CreditNotes", []))


def test_the_command_reconciles_one_organisation_with_if_modified_since_and_counts_its_calls(exported):
    org, record = exported
    seen, out = [], StringIO()
    with responses.RequestsMock() as rsps:
        xero_pages(rsps, [xero_invoice(status="VOIDED")], seen=seen)
        call_command("reconcile_xero", "--org", org.slug, stdout=out)
    assert "kowhai: done; 2 call(s), 1 seen in Xero, 1 changed" in out.getvalue()
    assert [r for r, _ in seen] == ["Invoices", "CreditNotes"]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", ims) for _, ims in seen)  # ISO 8601 UTC
    record.refresh_from_db()
    assert record.xero_drift == XeroDrift.VOIDED

    later = []
    with responses.RequestsMock() as rsps:
        xero_pages(rsps, [], seen=later)
        run = drift.reconcile_organisation(organisation=org)
    assert run.ok and run.calls == 2 and run.changed == 0
    first = ReconciliationRun.objects.filter(organisation=org).order_by("started_at").first()
    assert later[0][1] <= first.started_at.strftime("%Y-%m-%dT%H:%M:%SZ")  # from the last run, not from scratch


def test_an_unknown_organisation_is_a_clear_command_error(db):
    from django.core.management.base import CommandError
    with pytest.raises(CommandError, match="No organisation"):
        call_command("reconcile_xero", "--org", "nobody")


def test_an_organisation_not_connected_is_reported_not_called(db):
    org = factories.make_organisation("Loose", slug="loose")
    with responses.RequestsMock():
        run = drift.reconcile_organisation(organisation=org)
    assert not run.ok and run.calls == 0 and "not connected" in run.detail


def test_it_runs_nightly_and_from_the_portal_bulk_actions(exported, django_capture_on_commit_callbacks):
    org, record = exported
    assert ("xero.drift.reconcile", "xero_connect.tasks.drift.reconcile_all", 24 * 60) in SCHEDULES
    admin = factories.make_user("ann", first_name="Ann", last_name="Admin")
    factories.add_member(org, admin, Role.ADMIN)
    with responses.RequestsMock() as rsps:
        xero_pages(rsps, [xero_invoice(total="90.00")])
        with django_capture_on_commit_callbacks(execute=True):
            job = portal.portal_bulk_start(actor=admin, organisation_ids=[org.pk], kind=BulkJob.Kind.RECONCILE)
    job.refresh_from_db()
    assert job.status == BulkJob.Status.DONE and job.results[0]["outcome"] == "done"
    assert "1 newly flagged (2 calls)" in job.results[0]["detail"]
    record.refresh_from_db()
    assert record.xero_drift == XeroDrift.CHANGED


def test_the_portal_counts_documents_changed_in_xero_per_organisation(exported, client):
    org, record = exported
    admin = factories.make_user("ann", first_name="Ann", last_name="Admin")
    factories.add_member(org, admin, Role.ADMIN)
    drift.document_drift_apply(record, xero_invoice(status="DELETED"))
    client.force_login(admin)
    html = client.get("/portal/").content.decode()
    assert "1 changed in Xero" in html and f"/o/{org.slug}/exports/?drift=changed" in html


def test_the_admin_action_starts_a_reconciliation_job(exported, client, django_capture_on_commit_callbacks):
    org, record = exported
    staff = factories.make_user("root", is_staff=True, is_superuser=True)
    client.force_login(staff)
    with responses.RequestsMock() as rsps:
        xero_pages(rsps, [])
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/admin/xero_connect/organisation/",
                                   {"action": "reconcile_with_xero", "_selected_action": [org.pk]}, follow=True)
    assert response.status_code == 200
    job = BulkJob.objects.get(kind=BulkJob.Kind.RECONCILE)
    assert job.results[0]["outcome"] == "done" and ReconciliationRun.objects.filter(organisation=org, ok=True).exists()
