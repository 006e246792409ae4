from datetime import date

import pytest
from django.core.exceptions import PermissionDenied

from tests import factories
from xero_connect.models import BulkJob, ConnectionEvent, Role
from xero_connect.services import portal as svc
from xero_connect.services.portal import OrganisationsNotFound


@pytest.fixture
def no_enqueue(monkeypatch):
    started = []
    monkeypatch.setattr(svc, "_enqueue", lambda job: started.append(job.pk))
    return started


def test_health_check_job_with_the_real_diagnosis(org, admin_user, member_user, no_enqueue):
    """Not connected: the diagnosis says so with the next step, and records a check by the actor."""
    job = svc.portal_bulk_start(actor=member_user, organisation_ids=[org.pk], kind=BulkJob.Kind.HEALTH_CHECK)
    assert no_enqueue == [job.pk] and job.status == "queued" and job.results[0]["outcome"] == "pending"
    job = svc.portal_bulk_run(job_id=job.pk)
    result = job.results[0]
    assert result["outcome"] == "problem" and "Next step:" in result["detail"]
    assert "Alice Admin" in result["detail"]  # a Member is told whom to ask
    event = ConnectionEvent.objects.get(kind=ConnectionEvent.Kind.CHECK)
    assert event.actor == member_user and event.organisation == org
    assert job.status == "done" and job.percent == 100 and job.summary == (
        "Run a health check: 1 organisation, 1 needs attention.")


def test_run_is_resumable_and_idempotent(org, other_org, admin_user, monkeypatch, no_enqueue):
    factories.add_member(other_org, admin_user, Role.ADMIN)
    calls = []
    monkeypatch.setattr(svc, "RUNNERS", {**svc.RUNNERS, BulkJob.Kind.REFRESH_LISTS:
                                         lambda job, o: calls.append(o.slug) or ("done", "ok", "")})
    job = svc.portal_bulk_start(actor=admin_user, organisation_ids=[org.pk, other_org.pk],
                                kind=BulkJob.Kind.REFRESH_LISTS)
    job.results[0].update(outcome="done", detail="done before a worker restart")
    job.save()
    svc.portal_bulk_run(job_id=job.pk)
    assert calls == ["other"]  # only what was still pending
    svc.portal_bulk_run(job_id=job.pk)
    assert calls == ["other"]  # a finished job is not run again


def test_foreign_ids_are_refused_as_a_whole(org, other_org, admin_user, no_enqueue):
    with pytest.raises(OrganisationsNotFound):
        svc.portal_bulk_start(actor=admin_user, organisation_ids=[org.pk, other_org.pk],
                              kind=BulkJob.Kind.HEALTH_CHECK)
    assert not BulkJob.objects.exists() and no_enqueue == []


def test_export_range_needs_valid_dates(org, admin_user, no_enqueue):
    with pytest.raises(ValueError, match="start and an end date"):
        svc.portal_bulk_start(actor=admin_user, organisation_ids=[org.pk], kind=BulkJob.Kind.EXPORT_RANGE)
    with pytest.raises(ValueError, match="after the end"):
        svc.portal_bulk_start(actor=admin_user, organisation_ids=[org.pk], kind=BulkJob.Kind.EXPORT_RANGE,
                              params={"date_from": date(2025, 2, 1), "date_to": date(2025, 1, 1)})
    job = svc.portal_bulk_start(actor=admin_user, organisation_ids=[org.pk], kind=BulkJob.Kind.EXPORT_RANGE,
                                params={"date_from": date(2025, 1, 1), "date_to": date(2025, 1, 31)})
    assert job.params == {"date_from": "2025-01-01", "date_to": "2025-01-31", "doc_types": []}


def test_all_skipped_job_finishes_at_once(org, admin_user, member_user, monkeypatch, no_enqueue):
    from xero_connect import roles
    from xero_connect.roles import Action

    monkeypatch.setitem(roles.PERMISSIONS, Role.MEMBER, roles.PERMISSIONS[Role.MEMBER] - {Action.DIAGNOSE})
    job = svc.portal_bulk_start(actor=member_user, organisation_ids=[org.pk], kind=BulkJob.Kind.HEALTH_CHECK)
    assert job.status == "done" and job.skipped == 1 and no_enqueue == []
    assert "Only an Admin can diagnose the connection. Ask Alice Admin." in job.results[0]["detail"]


def test_staff_doors_refuse_non_staff(org, admin_user):
    with pytest.raises(PermissionDenied):
        svc.staff_bulk_start(actor=admin_user, organisations=[org], kind=BulkJob.Kind.HEALTH_CHECK)
    with pytest.raises(PermissionDenied):
        svc.organisations_disconnect(organisations=[org], actor=admin_user)
    with pytest.raises(PermissionDenied):
        svc.documents_export_selected(documents=[], actor=admin_user)


def test_task_entry_point_runs_the_job(org, admin_user, monkeypatch, no_enqueue):
    from xero_connect.tasks.portal import bulk_job_run

    monkeypatch.setattr(svc, "RUNNERS", {**svc.RUNNERS, BulkJob.Kind.HEALTH_CHECK:
                                         lambda job, o: ("done", "Xero answers.", "")})
    job = svc.portal_bulk_start(actor=admin_user, organisation_ids=[org.pk], kind=BulkJob.Kind.HEALTH_CHECK)
    bulk_job_run(job.pk)
    job.refresh_from_db()
    assert job.status == "done" and job.results[0]["detail"] == "Xero answers."


def test_export_range_and_retry_through_the_real_export_service(org, admin_user, no_enqueue):
    """No stubs: the export area's services queue exactly the right ledger rows, by the actor."""
    from xero_connect.models import DocumentType, ExportRecord, ExportState, SourceDocument

    docs = {n: SourceDocument.objects.create(organisation=org, doc_type=DocumentType.SALES_INVOICE, number=n,
                                             date=date(2025, 1, day)) for n, day in
            (("INV-1", 5), ("INV-2", 10), ("INV-3", 20), ("INV-OLD", 1))}
    job = svc.portal_bulk_start(actor=admin_user, organisation_ids=[org.pk], kind=BulkJob.Kind.EXPORT_RANGE,
                                params={"date_from": date(2025, 1, 2), "date_to": date(2025, 1, 31)})
    job = svc.portal_bulk_run(job_id=job.pk)
    assert job.results[0]["outcome"] == "done"
    assert job.results[0]["detail"] == "3 documents queued for export."
    queued = ExportRecord.objects.filter(state=ExportState.QUEUED, queued_by=admin_user)
    assert sorted(r.document.number for r in queued) == ["INV-1", "INV-2", "INV-3"]
    assert ExportRecord.objects.get(document=docs["INV-OLD"]).state == ExportState.NOT_EXPORTED

    ExportRecord.objects.filter(document=docs["INV-2"]).update(state=ExportState.FAILED, last_error="Refused")
    job = svc.portal_bulk_start(actor=admin_user, organisation_ids=[org.pk], kind=BulkJob.Kind.RETRY_FAILED)
    job = svc.portal_bulk_run(job_id=job.pk)
    assert job.results[0]["detail"] == "1 failed export queued again."
    assert ExportRecord.objects.get(document=docs["INV-2"]).state == ExportState.QUEUED
