from cryptography.fernet import Fernet
from django.core.management import call_command

from tests import factories
from xero_connect.models import XeroConnection


def test_rotation_command_reencrypts_every_token_and_the_old_key_can_go(org, settings):
    old_key = settings.TOKEN_ENCRYPTION_KEYS[0]
    conns = [factories.make_connection(org if i == 0 else factories.make_organisation(),
                                       access_token=f"acc-{i}", refresh_token=f"ref-{i}") for i in range(3)]
    new_key = Fernet.generate_key().decode()
    settings.TOKEN_ENCRYPTION_KEYS = [new_key, old_key]
    call_command("rotate_token_keys", stdout=open("/dev/null", "w"))
    settings.TOKEN_ENCRYPTION_KEYS = [new_key]
    for i, conn in enumerate(conns):
        fresh = XeroConnection.objects.get(pk=conn.pk)
        assert (fresh.get_access_token(), fresh.get_refresh_token()) == (f"acc-{i}", f"ref-{i}")
