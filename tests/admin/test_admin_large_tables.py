"""The ledger and documents changelists stay usable at 100,000s of rows (issue #18; timed in
bench/admin_pages.py): search is by exact document number or Xero id (indexed columns), dates
are filtered by range, and the page does not count the whole table twice."""
from datetime import date

import pytest
from django.urls import reverse

from tests import factories
from xero_connect.models import DocumentType, ExportRecord, SourceDocument


@pytest.fixture
def staff_client(client, db):
    client.force_login(factories.make_user("olive", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def ledger(db):
    org = factories.make_organisation("Acme Ltd", slug="acme")
    for i in range(3):
        doc = SourceDocument.objects.create(organisation=org, doc_type=DocumentType.SALES_INVOICE,
                                            number=f"INV-{i:03d}", date=date(2026, 1, 1 + i), total=10)
        ExportRecord.objects.create(organisation=org, document=doc, doc_type=doc.doc_type, doc_date=doc.date,
                                    xero_id=f"00000000-0000-4000-8000-{i:012d}")
    return org


def _numbers(response):
    return sorted(str(r.document.number if hasattr(r, "document_id") else r.number)
                  for r in response.context["cl"].result_list)


def test_the_ledger_is_searched_by_exact_number_or_xero_id(staff_client, ledger):
    url = reverse("admin:xero_connect_exportrecord_changelist")
    assert _numbers(staff_client.get(url, {"q": "INV-001"})) == ["INV-001"]
    assert _numbers(staff_client.get(url, {"q": " 00000000-0000-4000-8000-000000000002 "})) == ["INV-002"]
    assert _numbers(staff_client.get(url, {"q": "INV"})) == []  # not a LIKE over every row
    page = staff_client.get(url)
    assert _numbers(page) == ["INV-000", "INV-001", "INV-002"]
    assert "exact document number or Xero id" in page.content.decode()


def test_documents_are_searched_by_exact_number_and_filtered_by_date_range(staff_client, ledger):
    url = reverse("admin:xero_connect_sourcedocument_changelist")
    assert _numbers(staff_client.get(url, {"q": "INV-002"})) == ["INV-002"]
    ranged = staff_client.get(url, {"date__gte": "2026-01-02", "date__lt": "2026-01-03"})
    assert _numbers(ranged) == ["INV-001"]
    assert ranged.context["cl"].show_full_result_count is False


@pytest.fixture
def long_ledger(db, monkeypatch):
    """Seven records over two organisations, three to a page."""
    from django.contrib import admin

    for model in (ExportRecord, SourceDocument):
        monkeypatch.setattr(admin.site._registry[model], "list_per_page", 3)
    orgs = [factories.make_organisation("Acme Ltd", slug="acme"), factories.make_organisation("Bay Ltd", slug="bay")]
    for i in range(7):
        doc = SourceDocument.objects.create(organisation=orgs[i % 2], doc_type=DocumentType.BILL, number=f"B-{i}",
                                            date=date(2026, 1, 1 + i // 2), total=10)
        ExportRecord.objects.create(organisation=doc.organisation, document=doc, doc_type=doc.doc_type,
                                    doc_date=doc.date, state="failed" if i % 3 == 0 else "exported")
    return orgs


def _in_order(response):
    return [str(r.document.number if hasattr(r, "document_id") else r.number)
            for r in response.context["cl"].result_list]


def test_deep_pages_hold_the_rows_of_their_place_in_the_order(staff_client, long_ledger):
    """Pages read their keys first (KeysFirstPaginator): the rows and their order are those of
    slicing the ordered list, with filters and a column ordering chosen by the user."""
    ledger = reverse("admin:xero_connect_exportrecord_changelist")
    newest_first = ["B-6", "B-5", "B-4", "B-3", "B-2", "B-1", "B-0"]  # -doc_date, -id
    assert [n for p in (1, 2, 3) for n in _in_order(staff_client.get(ledger, {"p": p}))] == newest_first
    assert _in_order(staff_client.get(ledger, {"p": 2, "state__exact": "exported"})) == ["B-1"]
    by_organisation = [n for p in (1, 2, 3) for n in _in_order(staff_client.get(ledger, {"p": p, "o": "2.-4"}))]
    assert by_organisation == ["B-6", "B-4", "B-2", "B-0", "B-5", "B-3", "B-1"]  # organisation, then -doc_date
    documents = reverse("admin:xero_connect_sourcedocument_changelist")
    assert _in_order(staff_client.get(documents, {"p": 3})) == ["B-0"]
    assert staff_client.get(ledger, {"p": 9}).status_code == 302  # out of range: back to page 1, as before


def test_a_changelist_page_costs_the_same_queries_first_or_deep(staff_client, long_ledger,
                                                                django_assert_num_queries):
    """Session, user, the filtered count and the page's rows with their joins; the documents
    list adds its currency filter's choices."""
    for model, queries in (("exportrecord", 4), ("sourcedocument", 5)):
        url = reverse(f"admin:xero_connect_{model}_changelist")
        for params in ({}, {"p": 3}, {"p": 2, "doc_type__exact": "bill"}):
            with django_assert_num_queries(queries):
                assert staff_client.get(url, params).status_code == 200
