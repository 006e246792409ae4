"""Reconcile exported documents with Xero, here and now: find the ones voided, deleted,
changed or paid in Xero since the last run (If-Modified-Since, paged, in the rate budget)."""
from django.core.management.base import BaseCommand, CommandError

from xero_connect.models import Organisation
from xero_connect.services.drift import reconcile_organisation


class Command(BaseCommand):
    help = "Reconcile exported invoices, bills and credit notes with Xero (drift)."

    def add_arguments(self, parser):
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--org", help="Slug of one organisation.")
        who.add_argument("--all", action="store_true", help="Every organisation.")

    def handle(self, *args, org=None, all=False, **options):
        if org:
            organisations = list(Organisation.objects.filter(slug=org))
            if not organisations:
                raise CommandError(f"No organisation with slug {org!r}.")
        else:
            organisations = list(Organisation.objects.order_by("slug"))
        failures = 0
        for organisation in organisations:
            run = reconcile_organisation(organisation=organisation, trigger="command")
            outcome = "done" if run.ok else f"not done — {run.detail}"
            self.stdout.write(f"{organisation.slug}: {outcome}; {run.calls} call(s), {run.seen} seen in Xero, "
                              f"{run.changed} changed")
            failures += not run.ok
        if failures:
            self.stderr.write(f"{failures} of {len(organisations)} organisation(s) were not reconciled.")
