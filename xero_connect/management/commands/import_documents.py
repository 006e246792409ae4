"""Import documents from a CSV file (all or nothing; see services/documents.py for the columns).

    manage.py import_documents --org kowhai-coffee documents.csv
"""
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ... import messages as words
from ...models import Organisation
from ...services.documents import documents_import_csv


class Command(BaseCommand):
    help = "Import source documents from a CSV file into one organisation (nothing is imported if a row is wrong)."

    def add_arguments(self, parser):
        parser.add_argument("path", help="CSV file (UTF-8), one row per document line.")
        parser.add_argument("--org", required=True, help="Organisation slug.")

    def handle(self, *args, **opts):
        organisation = Organisation.objects.filter(slug=opts["org"]).first()
        if organisation is None:
            raise CommandError(f"No organisation with slug {opts['org']!r}.")
        path = Path(opts["path"])
        if not path.exists():
            raise CommandError(f"No such file: {path}")
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise CommandError(f"{path} is not UTF-8 text (byte {exc.start}). {words.SAVE_AS_CSV_UTF8} "
                               "Nothing was imported.") from exc
        result = documents_import_csv(organisation=organisation, actor=None, text=text)
        if not result.ok:
            for error in result.errors:
                self.stderr.write(str(error))
            raise CommandError(f"Nothing was imported: {len(result.errors)} problem(s).")
        self.stdout.write(self.style.SUCCESS(
            f"Imported {result.created} document(s) with {result.lines} line(s) into {organisation.name}."))
