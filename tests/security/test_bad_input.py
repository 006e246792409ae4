"""Bad input gets a clear error and loses nothing: absurd date ranges, malformed CSV files."""
import pytest
from django.core.management import CommandError, call_command
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from xero_connect.models import ExportRecord, SourceDocument

GOOD_HEADER = ("type,number,date,due_date,contact,currency,description,quantity,unit_amount,account_code,"
               "tax_type\n")
GOOD_ROW = "sales_invoice,INV-1,2026-11-02,2026-11-30,Café Olé,NZD,Beans,2,30,200,OUTPUT2\n"


def upload(client, org, content: bytes, name="docs.csv"):
    return client.post(reverse("documents_import", args=[org.slug]),
                       {"file": SimpleUploadedFile(name, content, content_type="text/csv")}, follow=True)


def test_a_good_file_imports(admin_client, org):
    response = upload(admin_client, org, (GOOD_HEADER + GOOD_ROW).encode("utf-8"))
    assert "Imported 1 document" in response.content.decode()
    assert SourceDocument.objects.get(organisation=org).contact_name == "Café Olé"


def test_a_file_in_another_encoding_is_refused_and_nothing_imported(admin_client, org):
    response = upload(admin_client, org, (GOOD_HEADER + GOOD_ROW).encode("latin-1"))
    assert "not UTF-8 text" in response.content.decode()
    assert not SourceDocument.objects.filter(organisation=org).exists()


def test_missing_columns_are_named_and_nothing_imported(admin_client, org):
    header = GOOD_HEADER.replace("date,due_date,", "due_date,")
    row = GOOD_ROW.replace("2026-11-02,", "", 1)
    body = upload(admin_client, org, (header + row).encode()).content.decode()
    assert "Missing column(s): date" in body
    assert not SourceDocument.objects.filter(organisation=org).exists()


def test_one_bad_row_among_good_ones_imports_nothing_and_names_the_row(admin_client, org):
    rows = GOOD_ROW + GOOD_ROW.replace("INV-1", "INV-2").replace("2026-11-02", "2026-13-45")
    body = upload(admin_client, org, (GOOD_HEADER + rows).encode()).content.decode()
    assert "Row 3" in body or "row 3" in body
    assert not SourceDocument.objects.filter(organisation=org).exists()


def test_a_huge_file_is_refused_before_it_is_read(admin_client, org):
    huge = (GOOD_HEADER + GOOD_ROW * 90_000).encode()
    assert len(huge) > 5 * 1024 * 1024
    body = upload(admin_client, org, huge).content.decode()
    assert "larger than 5 MB" in body
    assert not SourceDocument.objects.filter(organisation=org).exists()


def test_the_import_command_refuses_another_encoding_without_a_traceback(org, tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes((GOOD_HEADER + GOOD_ROW).encode("latin-1"))
    with pytest.raises(CommandError, match="not UTF-8 text"):
        call_command("import_documents", "--org", org.slug, str(path))
    assert not SourceDocument.objects.filter(organisation=org).exists()


def test_an_inverted_date_range_is_swapped_and_said(admin_client, org):
    response = admin_client.get(reverse("exports_page", args=[org.slug]), {"from": "2026-11-30", "to": "2026-10-01"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "wrong way round" in body and "1 Oct 2026 to 30 Nov 2026" in body


@pytest.mark.parametrize("params,notice", [
    ({"from": "0001-01-01", "to": "9999-12-31"}, "at most 10 years"),
    ({"from": "yesterday", "to": "2026-11-30"}, "is not a date"),
    ({"from": "2026-02-30", "to": "2026-11-30"}, "is not a date"),
])
def test_absurd_or_unreadable_dates_get_a_clear_notice(admin_client, org, params, notice):
    response = admin_client.get(reverse("exports_page", args=[org.slug]), params)
    assert response.status_code == 200 and notice in response.content.decode()


def test_export_everything_in_an_inverted_range_uses_the_swapped_range(admin_client, org):
    upload(admin_client, org, (GOOD_HEADER + GOOD_ROW).encode())
    response = admin_client.post(reverse("exports_action", args=[org.slug]),
                                 {"action": "range", "from": "2026-11-30", "to": "2026-11-01"}, follow=True)
    assert "wrong way round" in response.content.decode()
    # The document dated 2 Nov lies inside the swapped range, so the action picked it up.
    assert ExportRecord.objects.get(organisation=org).state != "not_exported"
