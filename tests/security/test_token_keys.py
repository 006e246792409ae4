from datetime import timedelta
from io import StringIO

from cryptography.fernet import Fernet
from django.core.management import call_command
from django.utils import timezone

from tests import factories
from xero_connect.models import PendingAuthorisation, WebhookEndpoint, XeroConnection
from xero_connect.models.fields import Sealed


def test_rotation_command_reencrypts_every_token_and_the_old_key_can_go(org, admin_user, settings):
    old_key = settings.TOKEN_ENCRYPTION_KEYS[0]
    conns = [factories.make_connection(org if i == 0 else factories.make_organisation(),
                                       access_token=f"acc-{i}", refresh_token=f"ref-{i}") for i in range(3)]
    pending = PendingAuthorisation.objects.create(organisation=org, user=admin_user, access_token_encrypted="p-acc",
                                                  refresh_token_encrypted="p-ref",
                                                  expires_at=timezone.now() + timedelta(minutes=5))
    endpoint = WebhookEndpoint.objects.create(organisation=org, url="http://127.0.0.1:9/", secret_encrypted="whsec-1")
    before = {c.pk: c.refresh_token_encrypted for c in conns}
    new_key = Fernet.generate_key().decode()
    settings.TOKEN_ENCRYPTION_KEYS = [new_key, old_key]
    out = StringIO()
    call_command("rotate_token_keys", stdout=out)
    assert "3 connection(s) and 1 pending sign-in(s), and the secrets of 1 webhook endpoint(s)" in out.getvalue()
    assert "could not be read" not in out.getvalue()
    settings.TOKEN_ENCRYPTION_KEYS = [new_key]
    for i, conn in enumerate(conns):
        fresh = XeroConnection.objects.get(pk=conn.pk)
        assert fresh.refresh_token_encrypted != before[conn.pk]  # a new ciphertext was stored
        assert (fresh.get_access_token(), fresh.get_refresh_token()) == (f"acc-{i}", f"ref-{i}")
    pending.refresh_from_db()
    endpoint.refresh_from_db()
    assert (pending.get_access_token(), pending.get_refresh_token(), endpoint.get_secret()) == (
        "p-acc", "p-ref", "whsec-1")


def test_a_row_no_key_opens_is_left_as_it_is_and_the_others_are_rotated(org, settings):
    readable = factories.make_connection(org, refresh_token="ref-ok")
    lost = factories.make_connection(factories.make_organisation())
    foreign = Fernet(Fernet.generate_key())
    XeroConnection.objects.filter(pk=lost.pk).update(access_token_encrypted=Sealed(foreign.encrypt(b"a").decode()),
                                                     refresh_token_encrypted=Sealed(foreign.encrypt(b"r").decode()))
    lost_before = XeroConnection.objects.get(pk=lost.pk).refresh_token_encrypted
    new_key = Fernet.generate_key().decode()
    settings.TOKEN_ENCRYPTION_KEYS = [new_key] + settings.TOKEN_ENCRYPTION_KEYS
    out = StringIO()
    call_command("rotate_token_keys", stdout=out)
    assert "Re-encrypted tokens of 1 connection(s)" in out.getvalue()
    assert "1 row(s) could not be read" in out.getvalue()
    settings.TOKEN_ENCRYPTION_KEYS = [new_key]
    assert XeroConnection.objects.get(pk=readable.pk).get_refresh_token() == "ref-ok"
    assert XeroConnection.objects.get(pk=lost.pk).refresh_token_encrypted == lost_before
