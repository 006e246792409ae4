from cryptography.fernet import Fernet
from django.db import connection as db

from xero_connect import crypto
from xero_connect.models import XeroConnection

from . import factories


def test_tokens_are_not_stored_in_plaintext(org):
    conn = factories.make_connection(org, access_token="plain-access-abc", refresh_token="plain-refresh-xyz")
    with db.cursor() as cur:
        cur.execute("SELECT access_token_encrypted, refresh_token_encrypted FROM xero_connect_xeroconnection "
                    "WHERE id = %s", [conn.pk])
        access_raw, refresh_raw = cur.fetchone()
    assert "plain-access-abc" not in access_raw and "plain-refresh-xyz" not in refresh_raw
    fresh = XeroConnection.objects.get(pk=conn.pk)
    assert (fresh.get_access_token(), fresh.get_refresh_token()) == ("plain-access-abc", "plain-refresh-xyz")


def test_rotation_new_key_encrypts_old_key_still_decrypts(settings):
    old_key = settings.TOKEN_ENCRYPTION_KEYS[0]
    ciphertext = crypto.encrypt("secret")
    new_key = Fernet.generate_key().decode()
    settings.TOKEN_ENCRYPTION_KEYS = [new_key, old_key]
    assert crypto.decrypt(ciphertext) == "secret"
    rotated = crypto.rotate(ciphertext)
    settings.TOKEN_ENCRYPTION_KEYS = [new_key]
    assert crypto.decrypt(rotated) == "secret"
    try:
        crypto.decrypt(ciphertext)
    except crypto.TokenDecryptionError:
        pass
    else:
        raise AssertionError("the dropped key must no longer decrypt")
