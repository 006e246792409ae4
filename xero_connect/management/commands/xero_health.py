"""Run the Xero connection health check for one organisation or all connected ones."""
from django.core.management.base import BaseCommand, CommandError

from ...models import Organisation, XeroConnection
from ...services.diagnosis import connection_health_check


class Command(BaseCommand):
    help = "Health-check Xero connections: --org <slug> for one organisation, --all for every connected one."

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--org", help="Organisation slug.")
        group.add_argument("--all", action="store_true", help="Every organisation with a current connection.")

    def handle(self, *args, **options):
        if options["org"]:
            organisations = list(Organisation.objects.filter(slug=options["org"]))
            if not organisations:
                raise CommandError(f"No organisation with slug '{options['org']}'.")
        else:
            ids = XeroConnection.objects.filter(is_current=True).values_list("organisation_id", flat=True)
            organisations = list(Organisation.objects.filter(pk__in=list(ids)))
        problems = 0
        for organisation in organisations:
            diagnosis = connection_health_check(organisation=organisation)
            problems += 0 if diagnosis.working else 1
            self.stdout.write(f"{organisation.slug}: {diagnosis.situation} — {diagnosis.title}")
            for check in diagnosis.checks:
                self.stdout.write(f"  {check.mark} {check.label}: {check.detail}")
            self.stdout.write(f"  next step: {diagnosis.next_step}")
        self.stdout.write(f"{len(organisations)} checked, {problems} need attention.")
