"""POST /documents: per-element results, the CSV import's own checks, idempotency; GET with
filters and cursor pages; one document with its attempts."""
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from xero_connect.models import ExportRecord, ExportState, SourceDocument
from xero_connect.services.documents import documents_import_csv

URL = "/api/v1/organisations/acme/documents/"


def invoice(number="INV-1", **fields):
    doc = {"type": "sales_invoice", "number": number, "date": "2026-11-02", "contact": "Kauri Cafe",
           "lines": [{"description": "Beans", "quantity": "2", "unit_amount": "12.50", "account_code": "200",
                      "tracking": [{"category": "Region", "option": "North"}]}]}
    doc.update(fields)
    return doc


def post(api, docs, **headers):
    return api.post(URL, {"documents": docs}, format="json", **headers)


def test_a_batch_is_created_per_element_with_the_refused_ones_explained(api, org):
    bad = invoice("INV-2", lines=[{"description": "x", "quantity": "two", "unit_amount": "1", "account_code": "200"}])
    no_contact = invoice("INV-3", contact="")
    response = post(api, [invoice("INV-1"), bad, no_contact])
    assert response.status_code == 200
    body = response.json()
    assert body["counts"] == {"created": 1, "updated": 0, "unchanged": 0, "refused": 2}
    first, second, third = body["results"]
    assert first["result"] == "created" and first["id"]
    assert second["result"] == "refused" and second["id"] is None
    assert second["errors"][0]["field"] == "lines[0].quantity" and "two" in second["errors"][0]["message"]
    assert third["errors"][0]["field"] == "contact"
    doc = SourceDocument.objects.get(organisation=org, number="INV-1")
    assert doc.total == Decimal("25.00")
    assert doc.lines.get().tracking == [{"category": "Region", "option": "North"}]
    assert doc.export_record.state == ExportState.NOT_EXPORTED
    assert not SourceDocument.objects.filter(number__in=["INV-2", "INV-3"]).exists()


def test_the_same_document_is_refused_by_the_api_and_the_csv_import_with_the_same_words(api, org, admin_user):
    csv = ("type,number,date,contact,description,quantity,unit_amount,account_code\n"
           "sales_invoice,INV-9,2026-13-40,Kauri Cafe,Beans,1,5,200\n")
    refused_by_csv = documents_import_csv(organisation=org, actor=admin_user, text=csv)
    body = post(api, [invoice("INV-9", date="2026-13-40")]).json()
    assert [e["message"] for e in body["results"][0]["errors"]] == [e.message for e in refused_by_csv.errors]
    assert body["results"][0]["errors"][0]["field"] == "date"


def test_a_repeated_batch_creates_nothing_twice_and_changes_update_before_export(api, org):
    docs = [invoice(f"INV-{i}") for i in range(5)]
    assert post(api, docs).json()["counts"]["created"] == 5
    again = post(api, docs).json()
    assert again["counts"] == {"created": 0, "updated": 0, "unchanged": 5, "refused": 0}
    assert SourceDocument.objects.filter(organisation=org).count() == 5
    assert ExportRecord.objects.filter(organisation=org).count() == 5
    docs[0]["lines"][0]["unit_amount"] = "13.00"
    changed = post(api, docs).json()
    assert changed["counts"] == {"created": 0, "updated": 1, "unchanged": 4, "refused": 0}
    doc = SourceDocument.objects.get(number="INV-0")
    assert doc.total == Decimal("26.00") and doc.lines.count() == 1


def test_a_document_already_exported_is_refused_not_changed(api, org):
    post(api, [invoice("INV-1")])
    ExportRecord.objects.filter(document__number="INV-1").update(state=ExportState.EXPORTED, xero_id="x-1")
    body = post(api, [invoice("INV-1", reference="changed")]).json()
    assert body["results"][0]["result"] == "refused"
    assert "can no longer be changed" in body["results"][0]["errors"][0]["message"]
    assert SourceDocument.objects.get(number="INV-1").reference == ""
    # Sending it unchanged is fine: nothing happens.
    assert post(api, [invoice("INV-1")]).json()["results"][0]["result"] == "unchanged"


def test_every_document_type_and_a_payment_of_an_invoice_in_the_same_batch(api, org):
    docs = [
        invoice("INV-1"),
        {"type": "bill", "number": "B-1", "date": "2026-11-02", "contact": "Roaster Ltd",
         "lines": [{"description": "Green beans", "quantity": 1, "unit_amount": 100, "account_code": "300"}]},
        {"type": "sales_credit_note", "number": "CN-1", "date": "2026-11-02", "contact": "Kauri Cafe",
         "lines": [{"description": "Refund", "unit_amount": "5", "account_code": "200"}]},
        {"type": "purchase_credit_note", "number": "PCN-1", "date": "2026-11-02", "contact": "Roaster Ltd",
         "lines": [{"description": "Refund", "unit_amount": "5", "account_code": "300"}]},
        {"type": "manual_journal", "number": "MJ-1", "date": "2026-11-02", "narration": "Accrual",
         "lines": [{"line_amount": "10.00", "account_code": "400"}, {"line_amount": "-10.00", "account_code": "800"}]},
        {"type": "payment", "number": "P-1", "date": "2026-11-03", "paid_number": "INV-1", "payment_account": "090",
         "amount": "25.00"},
    ]
    body = post(api, docs).json()
    assert body["counts"]["created"] == 6, body
    payment = SourceDocument.objects.get(number="P-1")
    assert payment.paid_document.number == "INV-1" and payment.total == Decimal("25.00")


def test_unknown_fields_duplicates_and_non_objects(api, org):
    listed_number = {**invoice(), "number": ["x"]}
    results = post(api, [invoice("INV-1", colour="red"), "not an object", listed_number,
                         invoice("INV-3"), invoice("INV-3")]).json()["results"]
    assert results[0]["errors"][0]["field"] == "colour"
    assert results[1]["errors"][0]["message"] == "Each document must be a JSON object."
    assert results[2]["errors"][0]["field"] == "number"
    assert results[3]["result"] == "created"
    assert results[4]["result"] == "refused" and "first at index 3" in results[4]["errors"][0]["message"]
    assert SourceDocument.objects.filter(organisation=org).count() == 1


def test_more_than_500_is_refused_whole(api, org):
    response = post(api, [invoice(f"INV-{i}") for i in range(501)])
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "documents"
    assert not SourceDocument.objects.exists()


def test_idempotency_key_replays_the_first_answer_and_refuses_another_body(api, org):
    first = post(api, [invoice("INV-1")], HTTP_IDEMPOTENCY_KEY="batch-1")
    SourceDocument.objects.filter(number="INV-1").update(reference="changed meanwhile")
    replay = post(api, [invoice("INV-1")], HTTP_IDEMPOTENCY_KEY="batch-1")
    assert replay.status_code == 200 and replay["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()  # "created", not "updated": the first answer
    assert SourceDocument.objects.get(number="INV-1").reference == "changed meanwhile"
    other = post(api, [invoice("INV-2")], HTTP_IDEMPOTENCY_KEY="batch-1")
    assert other.status_code == 422 and other["Content-Type"] == "application/problem+json"
    assert not SourceDocument.objects.filter(number="INV-2").exists()


def test_idempotency_keys_belong_to_their_api_key(api, other_api, org, other_org):
    post(api, [invoice("INV-1")], HTTP_IDEMPOTENCY_KEY="k")
    response = other_api.post("/api/v1/organisations/other/documents/", {"documents": [invoice("INV-1")]},
                              format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 200 and "Idempotent-Replayed" not in response
    assert SourceDocument.objects.filter(organisation=other_org, number="INV-1").exists()


@pytest.mark.parametrize("size", [10, 100])
def test_a_batch_costs_a_few_sql_statements_not_one_per_document(api, org, size):
    post(api, [invoice("WARM")])
    with CaptureQueriesContext(connection) as new:
        assert post(api, [invoice(f"N-{i}") for i in range(size)]).json()["counts"]["created"] == size
    with CaptureQueriesContext(connection) as again:
        post(api, [invoice(f"N-{i}") for i in range(size)])
    # Bulk writes: a handful of statements (SQLite splits a bulk INSERT every 999 parameters), never
    # one per document.
    assert len(new) <= 16
    assert len(again) == 8


def test_list_filters_and_cursor_pages(api, org):
    docs = [invoice(f"INV-{i:02}", date=f"2026-10-{i + 1:02}") for i in range(12)]
    docs.append({"type": "bill", "number": "B-1", "date": "2026-10-05", "contact": "Roaster",
                 "lines": [{"unit_amount": "1", "account_code": "300"}]})
    post(api, docs)
    ExportRecord.objects.filter(document__number="INV-03").update(state=ExportState.FAILED, last_error="No")
    seen, url = [], URL + "?page_size=5&type=sales_invoice"
    for _ in range(10):
        page = api.get(url).json()
        seen += [d["number"] for d in page["results"]]
        url = page["next"]
        if not url:
            break
    assert sorted(seen) == [f"INV-{i:02}" for i in range(12)]
    failed = api.get(URL + "?state=failed").json()["results"]
    assert [(d["number"], d["state_words"], d["last_error"]) for d in failed] == [("INV-03", "Failed", "No")]
    ranged = api.get(URL + "?date_from=2026-10-03&date_to=2026-10-05").json()["results"]
    assert sorted(d["number"] for d in ranged) == ["B-1", "INV-02", "INV-03", "INV-04"]
    assert api.get(URL + "?date_from=2026-10-09&date_to=2026-10-01").status_code == 400
    assert api.get(URL + "?state=lost").status_code == 400
    assert api.get(URL + "?updated_since=2999-01-01T00:00:00Z").json()["results"] == []


def test_one_document_with_its_attempts_and_view_in_xero(api, org, connected):
    post(api, [invoice("INV-1")])
    doc = SourceDocument.objects.get(number="INV-1")
    record = doc.export_record
    connected.short_code = "!abc"
    connected.save()
    ExportRecord.objects.filter(pk=record.pk).update(state=ExportState.EXPORTED, xero_id="inv-xero-1",
                                                     connection=connected)
    record.attempts.create(outcome="exported", http_status=200)
    body = api.get(f"{URL}{doc.pk}/").json()
    assert body["number"] == "INV-1" and body["state"] == "exported"
    assert body["lines"][0]["unit_amount"] == "12.5000"
    assert body["attempts"][0]["outcome"] == "exported"
    assert "inv-xero-1" in body["view_in_xero"] and "shortcode=%21abc" in body["view_in_xero"]


def test_awkward_text_is_kept_or_refused_never_a_500(api, org):
    """Found by Schemathesis: a carriage return inside a value, a NUL, a lone surrogate."""
    body = api.post(URL, '{"documents": [' + ",".join([
        '{"type": "bill", "number": "B-1", "date": "2026-11-02", "contact": "Line\\rtwo",'
        ' "lines": [{"description": "a\\r\\nb", "unit_amount": "1", "account_code": "300"}]}',
        '{"type": "bill", "number": "B-\\u0000", "date": "2026-11-02"}',
        '{"type": "bill", "number": "B-\\udc00", "date": "2026-11-02"}']) + "]}",
        content_type="application/json").json()
    assert [r["result"] for r in body["results"]] == ["created", "refused", "refused"]
    assert SourceDocument.objects.get(number="B-1").contact_name == "Line\rtwo"
    assert body["results"][1]["errors"][0]["field"] == "number"


def test_after_the_replay_window_the_key_is_new_again(api, org, settings):
    from datetime import timedelta

    from django.utils import timezone

    from xero_connect.models import IdempotentRequest

    post(api, [invoice("INV-1")], HTTP_IDEMPOTENCY_KEY="old")
    IdempotentRequest.objects.update(created_at=timezone.now() - timedelta(hours=25))
    response = post(api, [invoice("INV-2")], HTTP_IDEMPOTENCY_KEY="old")
    assert response.status_code == 200 and "Idempotent-Replayed" not in response
    assert response.json()["results"][0]["result"] == "created"


def test_a_field_name_with_a_nul_is_a_clear_400_and_an_echoed_nul_is_stored_for_replay(api, org):
    """Found by Schemathesis on PostgreSQL: an answer echoing a NUL (or a lone surrogate) could
    not be kept for Idempotency-Key replay (jsonb refuses both) and the request answered 500."""
    bad_name = api.post(URL, '{"documents": [{"x\\u0000": 1}]}', content_type="application/json",
                        HTTP_IDEMPOTENCY_KEY="nul-name")
    assert bad_name.status_code == 400
    assert "NUL" in bad_name.json()["detail"]

    body = '{"documents": [{"type": "bill", "number": "B-\\u0000", "date": "2026-11-02"}]}'
    first = api.post(URL, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="nul-value")
    again = api.post(URL, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="nul-value")
    assert first.status_code == again.status_code == 200
    assert first.json()["results"][0]["result"] == again.json()["results"][0]["result"] == "refused"
    assert again["Idempotent-Replayed"] == "true"
