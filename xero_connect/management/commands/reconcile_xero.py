"""Reconcile exported documents with Xero, here and now: find the ones voided, deleted,
changed or paid in Xero since the last run (If-Modified-Since, paged, in the rate budget)."""
from django.core.management.base import BaseCommand

from xero_connect.management.organisations import add_org_arguments, chosen_organisations
from xero_connect.services.drift import reconcile_organisation


class Command(BaseCommand):
    help = "Reconcile exported invoices, bills and credit notes with Xero (drift)."

    def add_arguments(self, parser):
        add_org_arguments(parser)

    def handle(self, *args, org=None, all=False, **options):
        organisations = chosen_organisations(org)
        failures = 0
        for organisation in organisations:
            run = reconcile_organisation(organisation=organisation, trigger="command")
            outcome = "done" if run.ok else f"not done — {run.detail}"
            self.stdout.write(f"{organisation.slug}: {outcome}; {run.calls} call(s), {run.seen} seen in Xero, "
                              f"{run.changed} changed")
            failures += not run.ok
        if failures:
            self.stderr.write(f"{failures} of {len(organisations)} organisation(s) were not reconciled.")
