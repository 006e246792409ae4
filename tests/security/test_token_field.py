"""Tokens are one encrypted field type (models.fields.EncryptedTextField): the ciphertext the
old hand-written code stored still reads, nothing decrypts until a token is used, a token no
key opens breaks only its user (who marks the connection "needs reconnect"), and the value
never prints — in the admin, a form, a log line or a repr."""
import logging
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet, MultiFernet
from django.contrib.admin.utils import display_for_field
from django.core import serializers
from django.core.exceptions import FieldError
from django.db import connection as db
from django.forms import modelform_factory
from django.test import Client
from django.utils import timezone

from tests import factories
from xero_connect import crypto
from xero_connect import messages as words
from xero_connect.models import ConnectionEvent, ConnectionStatus, PendingAuthorisation, XeroConnection
from xero_connect.models.fields import Sealed
from xero_connect.services import connections, tokens
from xero_connect.xero import errors

ACCESS, REFRESH = "acc-SECRET-field", "ref-SECRET-field"


def _columns(pk) -> tuple[str, str]:
    with db.cursor() as cur:
        cur.execute("SELECT access_token_encrypted, refresh_token_encrypted FROM xero_connect_xeroconnection "
                    "WHERE id = %s", [pk])
        return cur.fetchone()


def _write_columns(pk, access: bytes | str, refresh: bytes | str) -> None:
    with db.cursor() as cur:
        cur.execute("UPDATE xero_connect_xeroconnection SET access_token_encrypted = %s, "
                    "refresh_token_encrypted = %s WHERE id = %s",
                    [access.decode() if isinstance(access, bytes) else access,
                     refresh.decode() if isinstance(refresh, bytes) else refresh, pk])


def _old_code_path(settings) -> MultiFernet:
    """What crypto.encrypt did by hand before the field existed: MultiFernet over the keys."""
    return MultiFernet([Fernet(k.encode()) for k in settings.TOKEN_ENCRYPTION_KEYS])


def _staff_client():
    client = Client()
    client.force_login(factories.make_user("staff", is_staff=True, is_superuser=True))
    return client


def test_ciphertext_written_by_the_old_code_reads_back_unchanged_and_the_new_writes_read_the_old_way(org, settings):
    conn = factories.make_connection(org)
    old = _old_code_path(settings)
    legacy_access, legacy_refresh = old.encrypt(b"legacy-access"), old.encrypt(b"legacy-refresh")
    _write_columns(conn.pk, legacy_access, legacy_refresh)

    fresh = XeroConnection.objects.get(pk=conn.pk)
    assert fresh.access_token_encrypted.ciphertext == legacy_access.decode()
    assert (fresh.get_access_token(), fresh.get_refresh_token()) == ("legacy-access", "legacy-refresh")
    assert tokens.access_token(conn.pk) == "legacy-access"  # the token path, no refresh needed
    fresh.save()  # saving the row does not re-encrypt what it did not change
    assert _columns(conn.pk) == (legacy_access.decode(), legacy_refresh.decode())

    fresh.set_tokens(access_token="new-access", refresh_token="new-refresh", expires_at=fresh.access_token_expires_at)
    fresh.save()
    access_raw, refresh_raw = _columns(conn.pk)
    assert (old.decrypt(access_raw.encode()), old.decrypt(refresh_raw.encode())) == (b"new-access", b"new-refresh")


def test_reading_rows_never_decrypts(org, monkeypatch):
    conn = factories.make_connection(org, access_token=ACCESS, refresh_token=REFRESH)

    def refuse(ciphertext):
        raise AssertionError("decrypted while only reading rows")

    monkeypatch.setattr(crypto, "decrypt", refuse)
    rows = list(XeroConnection.objects.all()) + [XeroConnection.objects.get(pk=conn.pk)]
    assert all(row.has_tokens for row in rows)
    assert list(XeroConnection.objects.values_list("refresh_token_encrypted", flat=True)) == [
        conn.refresh_token_encrypted]


@pytest.fixture
def unreadable(org, admin_user):
    """A current connection whose tokens were sealed with a key no longer configured."""
    conn = factories.make_connection(org, actor=admin_user, access_token=ACCESS, refresh_token=REFRESH)
    dropped = Fernet(Fernet.generate_key())
    _write_columns(conn.pk, dropped.encrypt(ACCESS.encode()), dropped.encrypt(REFRESH.encode()))
    return conn


def test_a_token_no_key_opens_does_not_break_the_pages_listing_connections(unreadable, admin_client):
    staff = _staff_client()
    for client, url in ((staff, "/admin/xero_connect/xeroconnection/"),
                        (staff, f"/admin/xero_connect/xeroconnection/{unreadable.pk}/change/"),
                        (staff, "/admin/xero_connect/organisation/"),
                        (staff, "/portal/"),
                        (admin_client, "/o/acme/"),
                        (admin_client, "/o/acme/xero/")):
        response = client.get(url)
        assert response.status_code == 200, url
        assert REFRESH not in response.content.decode()


def test_using_a_token_no_key_opens_marks_the_connection_needs_reconnect(unreadable, admin_client, caplog):
    with caplog.at_level(logging.ERROR, logger="xero.token"):
        with pytest.raises(errors.ReauthorisationRequired):
            tokens.access_token(unreadable.pk)
    unreadable.refresh_from_db()
    assert unreadable.status == ConnectionStatus.NEEDS_RECONNECT
    event = ConnectionEvent.objects.filter(connection=unreadable).first()
    assert event.to_status == ConnectionStatus.NEEDS_RECONNECT and words.SIGN_IN_UNREADABLE in event.reason
    assert "xero.token.unreadable" in caplog.text
    with pytest.raises(errors.ReauthorisationRequired):  # and from now on, as for any needs-reconnect
        tokens.access_token(unreadable.pk)
    assert "Needs reconnect" in admin_client.get("/o/acme/xero/").content.decode()


def test_an_unreadable_access_token_is_refreshed_with_the_readable_refresh_token(org, settings, rsps):
    conn = factories.make_connection(org, refresh_token=REFRESH)
    _write_columns(conn.pk, Fernet(Fernet.generate_key()).encrypt(b"lost"), _old_code_path(settings).encrypt(
        REFRESH.encode()))
    rsps.post(settings.XERO_TOKEN_URL, json={"access_token": "acc-new", "refresh_token": "ref-new",
                                             "expires_in": 1800, "token_type": "Bearer"})
    assert tokens.access_token(conn.pk) == "acc-new"
    assert XeroConnection.objects.get(pk=conn.pk).status == ConnectionStatus.CONNECTED


def test_disconnect_still_works_when_no_key_opens_the_tokens(unreadable, admin_user, rsps):
    ended = connections.connection_disconnect(organisation=unreadable.organisation, actor=admin_user)
    assert ended.status == ConnectionStatus.DISCONNECTED and not ended.has_tokens
    assert _columns(unreadable.pk) == ("", "")
    assert not rsps.calls  # nothing to remove in Xero with: no call made with a token we cannot read


def test_the_value_never_prints(org, caplog):
    conn = factories.make_connection(org, access_token=ACCESS, refresh_token=REFRESH)
    sealed = conn.refresh_token_encrypted
    shown = [repr(sealed), str(sealed), f"{sealed}", f"{sealed!r:>20}", repr(conn.__dict__), repr([conn]),
             str(vars(XeroConnection.objects.get(pk=conn.pk)))]
    with caplog.at_level(logging.INFO):
        logging.getLogger("xero_connect.careless").info("row %s %r %s", conn.__dict__, sealed, sealed)
    shown.append(caplog.text)
    for text in shown:
        assert REFRESH not in text and ACCESS not in text and sealed.ciphertext not in text, text
    assert Sealed.REDACTED in repr(sealed) and repr(Sealed()) == "''"


def test_the_admin_cannot_show_or_edit_it_even_when_asked_to(org):
    conn = factories.make_connection(org, access_token=ACCESS, refresh_token=REFRESH)
    field = XeroConnection._meta.get_field("refresh_token_encrypted")
    # A readonly_fields / list_display entry naming it would render this:
    assert display_for_field(conn.refresh_token_encrypted, field, "-") == Sealed.REDACTED
    # A form naming it is refused; a form of "all fields" leaves it out.
    with pytest.raises(FieldError):
        modelform_factory(XeroConnection, fields=["refresh_token_encrypted"])
    assert not {"access_token_encrypted", "refresh_token_encrypted"} & set(
        modelform_factory(XeroConnection, fields="__all__").base_fields)
    assert not {"access_token_encrypted", "refresh_token_encrypted"} & set(
        modelform_factory(PendingAuthorisation, fields="__all__").base_fields)


def test_a_pending_sign_in_in_the_admin_shows_no_token(org, admin_user):
    pending = PendingAuthorisation.objects.create(organisation=org, user=admin_user, access_token_encrypted=ACCESS,
                                                  refresh_token_encrypted=REFRESH,
                                                  expires_at=timezone.now() + timedelta(minutes=5))
    body = _staff_client().get(f"/admin/xero_connect/pendingauthorisation/{pending.pk}/change/").content.decode()
    assert "Acme Widgets" in body
    for secret in (ACCESS, REFRESH, pending.access_token_encrypted.ciphertext, "token_encrypted"):
        assert secret not in body


def test_dumpdata_carries_the_ciphertext_and_loaddata_reads_it_back(org):
    conn = factories.make_connection(org, access_token=ACCESS, refresh_token=REFRESH)
    dumped = serializers.serialize("json", [conn])
    assert REFRESH not in dumped and conn.refresh_token_encrypted.ciphertext in dumped
    [restored] = serializers.deserialize("json", dumped)
    assert restored.object.get_refresh_token() == REFRESH


def test_assignment_seals_plaintext_and_keeps_a_sealed_value(org):
    conn = factories.make_connection(org)
    conn.access_token_encrypted = "plain"
    assert isinstance(conn.access_token_encrypted, Sealed) and conn.get_access_token() == "plain"
    assert "plain" not in conn.access_token_encrypted.ciphertext
    copied = conn.refresh_token_encrypted
    conn.access_token_encrypted = copied
    assert conn.access_token_encrypted is copied
    conn.access_token_encrypted = None
    assert not conn.access_token_encrypted and conn.get_access_token() == ""
    with pytest.raises(TypeError):
        conn.access_token_encrypted = b"bytes are not a token"


def test_finish_with_a_pending_token_no_key_opens_asks_for_a_new_sign_in(org, admin_user, rsps):
    pending = PendingAuthorisation.objects.create(
        organisation=org, user=admin_user, auth_event_id="ev-1", expires_at=timezone.now() + timedelta(minutes=5),
        tenants=[{"id": "c-1", "tenantId": "t-1", "tenantName": "Xero Org", "authEventId": "ev-1"}],
        access_token_encrypted=Sealed(Fernet(Fernet.generate_key()).encrypt(b"lost").decode()),
        refresh_token_encrypted=REFRESH)
    assert connections.pending_currency_mismatch(pending=pending, tenant_id="t-1", organisation=org) is None
    with pytest.raises(connections.SignInTimedOut):
        connections.connection_complete(pending=pending, actor=admin_user, tenant_id="t-1")
    pending.refresh_from_db()
    assert pending.completed_at is None and not XeroConnection.objects.filter(organisation=org).exists()
    assert not rsps.calls
