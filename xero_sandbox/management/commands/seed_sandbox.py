from django.core.management.base import BaseCommand

from xero_sandbox.seed import seed_sandbox
from xero_sandbox.services import sandbox_reset


class Command(BaseCommand):
    help = "Create the Xero sandbox's demo organisations, users and registered app (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--reset", action="store_true", help="Forget all sandbox state first (documents, tokens …).")

    def handle(self, *args, **options):
        summary = sandbox_reset() if options["reset"] else seed_sandbox()
        self.stdout.write(self.style.SUCCESS(f"Xero sandbox ready: {summary}"))
        self.stdout.write("Sign in at /xero-sandbox/ with demo@xero.example / xero-demo")
