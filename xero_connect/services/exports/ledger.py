"""The export ledger: one ExportRecord per source document."""
from django.db.models import F

from ...models import ExportRecord, SourceDocument


def ledger_sync_missing(*, organisation) -> int:
    """Create the records that are missing (documents added through the admin, say). Two
    queries when nothing is missing is all it costs, so pages can call it."""
    missing = list(
        SourceDocument.objects.filter(organisation=organisation, export_record__isnull=True)
        .values_list("pk", "doc_type", "date"))
    ExportRecord.objects.bulk_create(
        [ExportRecord(organisation=organisation, document_id=pk, doc_type=doc_type, doc_date=date)
         for pk, doc_type, date in missing], batch_size=1000, ignore_conflicts=True)
    return len(missing)


def ledger_sync(*, organisation) -> int:
    """Ensure an ExportRecord per SourceDocument, with doc_type/doc_date copied from the
    document (the Export Data page filters on the ledger's own indexed columns). Returns how
    many records were created."""
    created = ledger_sync_missing(organisation=organisation)
    drifted = list(
        ExportRecord.objects.filter(organisation=organisation)
        .exclude(doc_date=F("document__date"), doc_type=F("document__doc_type"))
        .values_list("pk", "document__date", "document__doc_type"))
    if drifted:
        ExportRecord.objects.bulk_update(
            [ExportRecord(pk=pk, doc_date=date, doc_type=doc_type) for pk, date, doc_type in drifted],
            ["doc_date", "doc_type"], batch_size=500)
    return created
