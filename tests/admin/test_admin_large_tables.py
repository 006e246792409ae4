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
