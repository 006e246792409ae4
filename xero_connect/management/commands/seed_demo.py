from django.core.management.base import BaseCommand

from ...services.demo import demo_seed


class Command(BaseCommand):
    help = "Create demo organisations, users (demo-only passwords) and documents. Safe to run again."

    def add_arguments(self, parser):
        parser.add_argument("--documents", type=int, default=300, help="Documents per organisation (0 for none).")

    def handle(self, *args, documents, **options):
        logins = demo_seed(documents_per_organisation=documents)
        self.stdout.write(self.style.SUCCESS("Demo data ready. Demo-only logins:"))
        for login in logins:
            self.stdout.write(f"  {login.username:<8} / {login.password}   {login.description}")
