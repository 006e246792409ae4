"""CSV import through the strict parser: ambiguous or absurd cells are refused by row with the
value, the column and the accepted forms, and nothing is imported; values Xero takes are kept
exactly; a row that got into the database anyway can still be shown and deleted."""
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse

from xero_connect.models import DocumentLine, SourceDocument
from xero_connect.services.documents import LineSpec, document_create, documents_import_csv

HEADER = "type,number,date,contact,description,quantity,unit_amount,account_code,tax_type\n"


def row(quantity="2", unit="30", number="INV-1", kind="sales_invoice"):
    return f"{kind},{number},2026-11-02,Café Olé,Beans,{quantity},{unit},200,OUTPUT2\n"


@pytest.mark.parametrize("cell, column", [("1e20", "quantity"), ('"2,5"', "quantity"), ('"1.234,56"', "unit_amount"),
                                          ("NaN", "unit_amount"), ("1.23456", "quantity"), ("Infinity", "quantity")])
def test_ambiguous_or_absurd_numbers_are_refused_and_nothing_is_imported(org, admin_user, cell, column):
    line = row(quantity=cell) if column == "quantity" else row(unit=cell)
    result = documents_import_csv(organisation=org, actor=admin_user, text=HEADER + row(number="INV-0") + line)
    assert not result.ok
    message = str(result.errors[0])
    assert message.startswith("Row 3:") and column in message and cell.strip('"') in message
    assert not SourceDocument.objects.filter(organisation=org).exists()


def test_exact_values_are_kept_exactly(org, admin_user):
    result = documents_import_csv(organisation=org, actor=admin_user, text=HEADER + row(quantity="2.5", unit="1234.5678"))
    assert result.ok, result.errors
    line = DocumentLine.objects.get(document__organisation=org)
    assert line.quantity == Decimal("2.5") and line.unit_amount == Decimal("1234.5678")


def test_a_negative_invoice_is_a_credit_note(org, admin_user):
    result = documents_import_csv(organisation=org, actor=admin_user, text=HEADER + row(unit="-30"))
    assert [str(e) for e in result.errors] == [
        "Row 2: INV-1 totals -60: a negative invoice is a credit note. Import it as a sales_credit_note with "
        "positive amounts."]
    result = documents_import_csv(organisation=org, actor=admin_user,
                                  text=HEADER + row(unit="-30", kind="sales_credit_note"))
    assert "a negative credit note is an invoice" in str(result.errors[0])


def test_a_discount_line_is_fine_when_the_invoice_is_positive(org, admin_user):
    text = HEADER + row() + row(quantity="1", unit="-10")
    result = documents_import_csv(organisation=org, actor=admin_user, text=text)
    assert result.ok and SourceDocument.objects.get(organisation=org).total == Decimal("50.00")


def test_too_long_text_is_refused_with_xeros_limit(org, admin_user):
    result = documents_import_csv(organisation=org, actor=admin_user, text=HEADER + row(number="N" * 256))
    assert "number" in str(result.errors[0]) and "at most 255" in str(result.errors[0])
    ok = documents_import_csv(organisation=org, actor=admin_user, text=HEADER + row(number="N" * 255))
    assert ok.ok and SourceDocument.objects.get(organisation=org).number == "N" * 255


def test_the_import_page_answers_a_row_error_not_a_500(admin_client, org):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = admin_client.post(reverse("documents_import", args=[org.slug]), {
        "file": SimpleUploadedFile("d.csv", (HEADER + row(quantity="1e20")).encode(), content_type="text/csv")})
    assert response.status_code == 200
    assert "quantity “1e20”" in response.content.decode()


@pytest.fixture
def staff_client(db):
    from django.test import Client

    from tests import factories

    client = Client()
    client.force_login(factories.make_user("olive", is_staff=True, is_superuser=True))
    return client


@pytest.mark.skipif(connection.vendor != "sqlite", reason="PostgreSQL's NUMERIC(14, 4) refuses such a value")
def test_a_row_that_got_in_anyway_can_be_shown_and_deleted(org, admin_client, staff_client):
    doc = document_create(organisation=org, doc_type="sales_invoice", number="BAD-1", date="2026-11-02",
                          contact_name="X", lines=[LineSpec(quantity=Decimal(1), unit_amount=Decimal(1))])
    with connection.cursor() as cursor:  # what the old import stored on SQLite
        cursor.execute("UPDATE xero_connect_documentline SET quantity = 1e20 WHERE document_id = %s", [doc.pk])
        cursor.execute("UPDATE xero_connect_sourcedocument SET total = 1e20 WHERE id = %s", [doc.pk])

    assert admin_client.get(reverse("exports_page", args=[org.slug]) + "?from=2026-11-01&to=2026-11-30").status_code == 200
    assert admin_client.get(reverse("exports_record", args=[org.slug, doc.export_record.pk])).status_code == 200
    for name, args in [("admin:xero_connect_sourcedocument_changelist", []),
                       ("admin:xero_connect_sourcedocument_change", [doc.pk]),
                       ("admin:xero_connect_sourcedocument_delete", [doc.pk])]:
        assert staff_client.get(reverse(name, args=args)).status_code == 200, name
    response = staff_client.post(reverse("admin:xero_connect_sourcedocument_delete", args=[doc.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not SourceDocument.objects.filter(pk=doc.pk).exists()
