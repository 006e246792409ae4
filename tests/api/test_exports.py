"""POST /exports answers a job to poll; it goes through the same queue the pages use."""
from xero_connect.models import BulkJob, ExportRecord, ExportState

from .test_documents import invoice, post

URL = "/api/v1/organisations/acme/exports/"


def test_export_selected_is_a_job_recorded_under_the_keys_name(api, org, org_key,
                                                               django_capture_on_commit_callbacks):
    ids = [r["id"] for r in post(api, [invoice("INV-1"), invoice("INV-2")]).json()["results"]]
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(URL, {"action": "selected", "document_ids": ids[:1]}, format="json")
    assert response.status_code == 202, response.json()
    job = BulkJob.objects.get(pk=response.json()["id"])
    assert job.actor.get_full_name() == "Inventory system" and job.kind == BulkJob.Kind.EXPORT_SELECTED
    assert response["Location"].endswith(f"/api/v1/organisations/acme/jobs/{job.pk}/")
    # Not connected: the item waits for the connection (the worker ran inline), the other is untouched.
    polled = api.get(response["Location"]).json()
    assert polled["total"] == 1 and polled["waiting"] == 1
    record = ExportRecord.objects.get(document_id=ids[0])
    assert record.state == ExportState.WAITING_FOR_CONNECTION and record.queued_by == org_key[0].actor
    assert ExportRecord.objects.get(document_id=ids[1]).state == ExportState.NOT_EXPORTED


def test_range_retry_and_reexport_and_their_checks(api, org):
    post(api, [invoice("INV-1", date="2026-10-01"), invoice("INV-2", date="2026-11-01")])
    ranged = api.post(URL, {"action": "range", "date_from": "2026-10-01", "date_to": "2026-10-31"}, format="json")
    assert ranged.status_code == 202 and ranged.json()["total"] == 1
    ExportRecord.objects.filter(document__number="INV-2").update(state=ExportState.FAILED)
    retried = api.post(URL, {"action": "retry_failed"}, format="json")
    assert retried.status_code == 202 and retried.json()["total"] == 1
    for bad in ({"action": "selected"}, {"action": "range", "date_from": "2026-10-01"},
                {"action": "range", "date_from": "2026-10-31", "date_to": "2026-10-01"},
                {"action": "reexport"}, {"action": "explode"},
                {"action": "range", "date_from": "1900-01-01", "date_to": "2026-10-01"}):
        response = api.post(URL, bad, format="json")
        assert response.status_code == 400, bad


def test_documents_of_another_organisation_cannot_be_named(api, org, other_org, other_api):
    theirs = other_api.post("/api/v1/organisations/other/documents/", {"documents": [invoice("INV-1")]},
                            format="json").json()["results"][0]["id"]
    response = api.post(URL, {"action": "selected", "document_ids": [theirs]}, format="json")
    assert response.status_code == 400
    assert ExportRecord.objects.get(document_id=theirs).state == ExportState.NOT_EXPORTED


def test_ids_beyond_any_row_are_400_or_404_not_500(api, org):
    assert api.post(URL, {"action": "selected", "document_ids": [2**64]}, format="json").status_code == 400
    assert api.get(f"/api/v1/organisations/acme/documents/{2**64}/").status_code == 404
    assert api.get(f"/api/v1/organisations/acme/jobs/{2**64}/").status_code == 404


def test_an_export_sent_twice_with_one_idempotency_key_is_one_job(api, org):
    ids = [r["id"] for r in post(api, [invoice("INV-1")]).json()["results"]]
    body = {"action": "selected", "document_ids": ids}
    first = api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="export-1")
    again = api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="export-1")
    assert again["Idempotent-Replayed"] == "true" and again.json()["id"] == first.json()["id"]
    assert BulkJob.objects.count() == 1
