from django.core.management.base import BaseCommand

from ...services.keys import tokens_reencrypt


class Command(BaseCommand):
    help = ("Re-encrypt every stored Xero token and webhook signing secret with the newest key in "
            "TOKEN_ENCRYPTION_KEYS. Afterwards the older keys can be removed from the setting.")

    def handle(self, *args, **options):
        result = tokens_reencrypt()
        self.stdout.write(self.style.SUCCESS(
            f"Re-encrypted tokens of {result.connections} connection(s) and {result.pending} pending sign-in(s), "
            f"and the secrets of {result.webhook_endpoints} webhook endpoint(s), with the newest key. "
            "You can now remove the older keys from TOKEN_ENCRYPTION_KEYS."))
        if result.unreadable:
            self.stdout.write(self.style.WARNING(
                f"{result.unreadable} row(s) could not be read with any configured key and were left as they are; "
                "their connections will need a reconnect (webhook endpoints: a new secret)."))
