"""Disconnect: remove the connection here and in Xero, keep the history and the ledger."""
from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from ... import connection_states, roles
from ...models import ConnectionStatus, XeroConnection
from ...roles import Action
from ...xero import oauth
from ..tokens import token_plaintext
from .cleanup import _in_use_elsewhere, _outcome_of, _revoke_is_safe

log = logging.getLogger("xero.connections")
S = ConnectionStatus
# Disconnect uses the stored access token only if it has at least this long to live.
DISCONNECT_TOKEN_MARGIN = timedelta(seconds=30)


def connection_disconnect(*, organisation, actor, as_staff: bool = False) -> XeroConnection | None:
    """Disconnect (an Admin of the organisation, or platform staff from the Django admin with
    as_staff=True): remove the connection at Xero (best effort, recorded), keep the history and
    the export ledger. Returns the ended connection (None if there was none)."""
    roles.require(user=actor, organisation=organisation, action=Action.DISCONNECT, as_staff=as_staff)
    connection = XeroConnection.objects.filter(organisation=organisation, is_current=True).first()
    if connection is None:
        return None
    report: dict = {}
    # An unreadable token (no configured key opens it) is as good as none: nothing to remove in Xero with.
    refresh_token = token_plaintext(connection.refresh_token_encrypted, what=f"connection={connection.pk} refresh")
    if refresh_token and connection.status != S.NEEDS_RECONNECT and connection.xero_connection_id and not \
            _in_use_elsewhere(connection_id=connection.xero_connection_id, exclude_pk=connection.pk):
        # Tokens are fetched directly (not through services.tokens): a refresh failing here
        # must not flag the connection as "needs reconnect" and email the admins.
        def delete():
            nonlocal refresh_token
            expires = connection.access_token_expires_at
            token = ""
            if expires and expires > timezone.now() + DISCONNECT_TOKEN_MARGIN:
                token = token_plaintext(connection.access_token_encrypted, what=f"connection={connection.pk} access")
            if not token:
                fresh = oauth.refresh(refresh_token=refresh_token)
                token, refresh_token = fresh.access_token, fresh.refresh_token or refresh_token
            oauth.delete_connection(access_token=token, connection_id=connection.xero_connection_id)
        report["connection_deleted"] = _outcome_of(delete)
    if refresh_token and _revoke_is_safe(connection):
        report["authorisation_revoked"] = _outcome_of(lambda: oauth.revoke(refresh_token=refresh_token))
    with transaction.atomic():
        connection = XeroConnection.objects.select_for_update().get(pk=connection.pk)
        if not connection.is_current:
            return connection
        connection.clear_tokens()
        connection.save(update_fields=["access_token_encrypted", "refresh_token_encrypted", "access_token_expires_at"])
        who = "platform staff" if as_staff and roles.staff_may(user=actor, action=Action.DISCONNECT) else "an Admin"
        connection_states.disconnect(connection, actor=actor, reason=f"Disconnected from Xero by {who}",
                                     details=report)
    log.info("xero.connection.disconnected organisation=%s connection=%s report=%s", organisation.pk,
             connection.pk, report)
    return connection
