from django.core.management.base import BaseCommand

from ...tasks.schedules import ensure_schedules


class Command(BaseCommand):
    help = "Create or update the django-q2 schedules (health checks, token keep-alive, export queue)."

    def handle(self, *args, **options):
        for name in ensure_schedules():
            self.stdout.write(f"schedule ready: {name}")
