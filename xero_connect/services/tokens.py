"""Access tokens for a connection, refreshed ahead of expiry by exactly one process.

Xero's refresh tokens rotate: two processes refreshing at once would race, and the loser's
stored token would be dead. So a refresh happens under a lease taken with SELECT … FOR UPDATE
on the connection row: the row is re-read after the lock is taken; whoever holds the lease
refreshes and stores the rotated token; everyone else waits for it and uses the new token.

The network call is made outside the database transaction (the lease is the lock), so no
transaction is held open while Xero answers — on SQLite a transaction would lock the whole
database. If a process dies after Xero rotated the token but before storing it, the lease
expires and the next refresh uses the previous refresh token, which Xero still honours for a
30-minute grace period: the rotation is not lost.

Tokens are decrypted here, on use, never when a row is read (models.fields.EncryptedTextField).
A stored access token no configured key opens is simply not usable (a refresh replaces it); a
refresh token no key opens can never be used again: the connection is marked "needs
reconnect" (the Admins are emailed, as for invalid_grant) and ReauthorisationRequired raised.
"""
import logging
import time
import uuid
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from .. import connection_states, crypto
from .. import messages as words
from ..config import xero_config
from ..models import ConnectionEvent, ConnectionStatus, XeroConnection
from ..models.fields import Sealed
from ..observability import metrics
from ..xero import errors, oauth
from .connection_problems import connection_mark_problem

log = logging.getLogger("xero.token")
LEASE_SECONDS = 45
POLL_SECONDS = 0.1


def _fresh_enough(connection: XeroConnection, now) -> bool:
    expires = connection.access_token_expires_at
    return bool(expires and connection.access_token_encrypted
                and expires > now + timedelta(seconds=xero_config().token_refresh_margin))


def _usable_token(connection: XeroConnection, stale_token: str | None, now) -> str | None:
    """The stored access token, if fresh and not the one the caller saw rejected."""
    if not _fresh_enough(connection, now):
        return None
    token = token_plaintext(connection.access_token_encrypted, what=f"connection={connection.pk} access")
    if not token:
        return None  # unreadable: a refresh replaces it
    return None if stale_token and token == stale_token else token


def token_plaintext(sealed: Sealed, *, what: str) -> str:
    """The plaintext of a stored token (a models.fields.Sealed), or "" when none is stored or
    no key in TOKEN_ENCRYPTION_KEYS opens it — then logged as xero.token.unreadable, naming
    `what` (e.g. "connection=12 refresh"), never the token. Such a token can be used for
    nothing: callers treat it as absent."""
    try:
        return sealed.reveal()
    except crypto.TokenDecryptionError:
        log.error("xero.token.unreadable %s (no key in TOKEN_ENCRYPTION_KEYS opens it)", what)
        return ""


def _check_usable(connection: XeroConnection) -> None:
    if not connection.is_current or connection.status == ConnectionStatus.DISCONNECTED:
        raise errors.ReauthorisationRequired("This connection was disconnected.")
    if connection.status == ConnectionStatus.NEEDS_RECONNECT:
        raise errors.ReauthorisationRequired("This connection needs to be reconnected.")
    if not connection.refresh_token_encrypted:
        raise errors.ReauthorisationRequired("No refresh token is stored for this connection.")


def access_token(connection_id: int, *, stale_token: str | None = None, force: bool = False) -> str:
    """A usable access token for the connection, refreshing it (once, for everyone) if needed.

    `stale_token` is a token Xero just rejected with 401: it is never returned again.
    Raises errors.ReauthorisationRequired when a person must sign in again (disconnected,
    needs reconnect, no refresh token, invalid_grant, or a refresh token no configured key
    can decrypt), XeroUnavailable when another process holds the lease too long, and the
    seam's other errors.XeroError from the refresh call.
    """
    owner = uuid.uuid4().hex
    deadline = time.monotonic() + LEASE_SECONDS + xero_config().http_timeout
    while True:
        now = timezone.now()
        with transaction.atomic():
            connection = XeroConnection.objects.select_for_update().get(pk=connection_id)
            _check_usable(connection)
            if not force:
                token = _usable_token(connection, stale_token, now)
                if token:
                    return token
            lease_free = connection.refresh_lock_until is None or connection.refresh_lock_until <= now
            if lease_free:
                refresh_token = _readable_refresh_token(connection)
                if refresh_token:
                    connection.refresh_lock_until = now + timedelta(seconds=LEASE_SECONDS)
                    connection.refresh_lock_owner = owner
                    connection.save(update_fields=["refresh_lock_until", "refresh_lock_owner"])
                break
        if time.monotonic() > deadline:
            raise errors.XeroUnavailable("Another process is refreshing this connection's token; try again shortly.")
        time.sleep(POLL_SECONDS)
        force = False  # someone else refreshed: their token is as good as ours
    if not refresh_token:
        raise errors.ReauthorisationRequired(f"{words.SIGN_IN_UNREADABLE}.")
    return _refresh_holding_lease(connection_id, owner, refresh_token)


def _readable_refresh_token(connection: XeroConnection) -> str:
    """The connection's refresh token (one is stored: _check_usable), or "" when no configured
    key decrypts it; then the connection (locked by the caller's transaction) is marked
    "needs reconnect"."""
    refresh_token = token_plaintext(connection.refresh_token_encrypted,
                                    what=f"connection={connection.pk} tenant={connection.tenant_id} refresh")
    if not refresh_token:
        connection_mark_problem(connection, status=ConnectionStatus.NEEDS_RECONNECT,
                                reason=f"{words.SIGN_IN_UNREADABLE}.", details={"error": "token_unreadable"})
    return refresh_token


def _refresh_holding_lease(connection_id: int, owner: str, refresh_token: str) -> str:
    failure: errors.XeroError | None = None
    tokens = None
    try:
        tokens = oauth.refresh(refresh_token=refresh_token)
    except errors.XeroError as exc:
        failure = exc
    metrics.token_refresh_observed(outcome="ok" if tokens is not None else "invalid_grant" if isinstance(
        failure, errors.ReauthorisationRequired) else "failed")
    with transaction.atomic():
        connection = XeroConnection.objects.select_for_update().get(pk=connection_id)
        still_ours = connection.refresh_lock_owner == owner
        connection.refresh_lock_until = None
        connection.refresh_lock_owner = ""
        if tokens is not None and still_ours:
            connection.set_tokens(access_token=tokens.access_token, refresh_token=tokens.refresh_token,
                                  expires_at=tokens.expires_at)
            if tokens.scopes:
                connection.scopes = " ".join(tokens.scopes)
            connection.save()
            log.info("xero.token.refresh.ok connection=%s tenant=%s", connection.pk, connection.tenant_id)
            connection_states.record_check(
                organisation=connection.organisation, connection=connection, kind=ConnectionEvent.Kind.TOKEN_REFRESH,
                reason="Access token refreshed", outcome="ok")
            return tokens.access_token
        connection.save(update_fields=["refresh_lock_until", "refresh_lock_owner"])
        if tokens is not None:
            # Our lease expired and someone else refreshed meanwhile; theirs is stored.
            return connection.get_access_token()
        log.warning("xero.token.refresh.failed connection=%s tenant=%s error=%s", connection.pk,
                    connection.tenant_id, failure.__class__.__name__)
        if isinstance(failure, errors.ReauthorisationRequired) and connection.status in (
                ConnectionStatus.CONNECTED, ConnectionStatus.REMOVED_IN_XERO):
            connection_mark_problem(
                connection, status=ConnectionStatus.NEEDS_RECONNECT,
                reason=f"{words.SIGN_IN_NOT_ACCEPTED} (the refresh token expired or was revoked).",
                details={"error": "invalid_grant"})
    raise failure
