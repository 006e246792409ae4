from django.core.management.base import BaseCommand

from ...services.keys import tokens_reencrypt


class Command(BaseCommand):
    help = ("Re-encrypt every stored Xero token with the newest key in TOKEN_ENCRYPTION_KEYS. "
            "Afterwards the older keys can be removed from the setting.")

    def handle(self, *args, **options):
        result = tokens_reencrypt()
        self.stdout.write(self.style.SUCCESS(
            f"Re-encrypted tokens of {result.connections} connection(s) and {result.pending} pending sign-in(s) "
            "with the newest key. You can now remove the older keys from TOKEN_ENCRYPTION_KEYS."))
