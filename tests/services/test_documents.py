"""Documents arrive through the CSV import (all or nothing, row-level errors) and the demo seed."""
from datetime import date
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from xero_connect.models import DocumentType, ExportRecord, SourceDocument
from xero_connect.services.demo_documents import demo_seed_documents
from xero_connect.services.documents import documents_import_csv
from xero_connect.services.exports import ledger_sync

HEADER = ("type,number,date,contact,description,quantity,unit_amount,line_amount,account_code,tax_type,tracking,"
          "narration,paid_number,payment_account,amount\n")


def test_a_good_file_creates_documents_grouped_by_number_with_ledger_records(org):
    text = HEADER + (
        "sales_invoice,INV-1,2026-11-02,Cuba Street Café,Beans,10,32.50,,200,OUTPUT2,Region=Auckland,,,,\n"
        "sales_invoice,INV-1,2026-11-02,Cuba Street Café,Delivery,1,15,,260,OUTPUT2,,,,,\n"
        "bill,B-7,2026-11-03,Vector Energy,Power,1,240.10,,445,INPUT2,,,,,\n"
        "manual_journal,MJ-1,2026-11-04,,Write-down,,,120,310,NONE,,Stock adjustment,,,\n"
        "manual_journal,MJ-1,2026-11-04,,Write-down,,,-120,630,NONE,,,,,\n"
        "payment,PAY-1,2026-11-05,,,,,,,,,,INV-1,090,100\n")
    result = documents_import_csv(organisation=org, actor=None, text=text)
    assert result.ok, result.errors
    assert result.created == 4 and result.lines == 5
    inv = SourceDocument.objects.get(number="INV-1")
    assert inv.total == Decimal("340.00") and inv.lines.count() == 2
    assert inv.lines.first().tracking == [{"category": "Region", "option": "Auckland"}]
    pay = SourceDocument.objects.get(number="PAY-1")
    assert pay.paid_document == inv and pay.total == Decimal("100") and pay.payment_account_code == "090"
    assert SourceDocument.objects.get(number="MJ-1").narration == "Stock adjustment"
    assert ExportRecord.objects.filter(organisation=org).count() == 4


def test_any_bad_row_imports_nothing_and_every_problem_is_named_by_row(org):
    text = HEADER + (
        "sales_invoice,INV-1,2026-11-02,Cuba Street Café,Beans,10,32.50,,200,,,,,,\n"
        "sales_invoice,INV-1,2026-11-09,Cuba Street Café,More,1,2,,200,,,,,,\n"  # date differs on one document
        "invoice_thing,X-1,2026-11-02,,,,,,,,,,,,\n"
        "manual_journal,MJ-1,2026-11-04,,a,,,120,310,,,Adj,,,\n"
        "manual_journal,MJ-1,2026-11-04,,b,,,-100,630,,,,,,\n"
        "payment,PAY-1,2026-11-05,,,,,,,,,,NOPE,090,100\n")
    result = documents_import_csv(organisation=org, actor=None, text=text)
    messages = [str(e) for e in result.errors]
    assert not result.ok
    assert any(m.startswith("Row 3: date “2026-11-09” differs from row 2") for m in messages)
    assert any(m.startswith("Row 4: Type “invoice_thing” is not one of") for m in messages)
    assert any("Row 5: The manual journal MJ-1 does not balance" in m for m in messages)
    assert any("Row 7: The invoice or bill NOPE that payment PAY-1 pays is not" in m for m in messages)
    assert SourceDocument.objects.count() == 0 and ExportRecord.objects.count() == 0


def test_unknown_columns_and_existing_numbers_are_refused(org):
    result = documents_import_csv(organisation=org, actor=None, text="type,number,date,colour\n")
    assert "Unknown column(s): colour" in str(result.errors[0])
    ok = HEADER + "bill,B-1,2026-11-03,Vector Energy,Power,1,10,,445,,,,,,\n"
    assert documents_import_csv(organisation=org, actor=None, text=ok).ok
    again = documents_import_csv(organisation=org, actor=None, text=ok)
    assert "Row 2: Bill B-1 already exists." in [str(e) for e in again.errors]


def test_import_command_reports_errors_and_imports_nothing(org, tmp_path, capsys):
    path = tmp_path / "docs.csv"
    path.write_text(HEADER + "bill,B-1,not-a-date,Vector Energy,Power,1,10,,445,,,,,,\n", encoding="utf-8")
    with pytest.raises(CommandError, match="Nothing was imported"):
        call_command("import_documents", str(path), org=org.slug)
    assert "Row 2: date “not-a-date” is not a date" in capsys.readouterr().err
    path.write_text(HEADER + "bill,B-1,2026-11-01,Vector Energy,Power,1,10,,445,,,,,,\n", encoding="utf-8")
    call_command("import_documents", str(path), org=org.slug)
    assert SourceDocument.objects.filter(organisation=org).count() == 1


def test_demo_seed_makes_a_few_hundred_documents_over_recent_months_idempotently(org):
    created = demo_seed_documents(organisation=org, count=300)
    assert created == 300
    assert demo_seed_documents(organisation=org, count=300) == 0
    docs = SourceDocument.objects.filter(organisation=org)
    types = set(docs.values_list("doc_type", flat=True))
    assert types == set(DocumentType.values)
    assert docs.filter(lines__account_code="455").distinct().count() >= 2  # a handful fail in Xero
    assert all(p.paid_document.date <= p.date for p in docs.filter(doc_type=DocumentType.PAYMENT))
    assert ExportRecord.objects.filter(organisation=org).count() == 300


def test_ledger_sync_adds_missing_records_and_follows_date_changes(org):
    doc = SourceDocument.objects.create(organisation=org, doc_type=DocumentType.BILL, number="B-1",
                                        date=date(2026, 1, 5))
    assert ledger_sync(organisation=org) == 1
    doc.date = date(2026, 2, 1)
    doc.save()
    assert ledger_sync(organisation=org) == 0
    assert ExportRecord.objects.get(document=doc).doc_date == date(2026, 2, 1)
