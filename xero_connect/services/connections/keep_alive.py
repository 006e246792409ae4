"""Keep refresh tokens alive: Xero drops one unused for 60 days."""
from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone

from ...config import xero_config
from ...models import ConnectionStatus, PendingAuthorisation
from ...models import XeroConnection
from ...xero import errors
from .. import tokens

log = logging.getLogger("xero.connections")
S = ConnectionStatus
# Pending sign-ins are kept (without tokens) this long after they expire, for the history.
FORGET_PENDING_AFTER = timedelta(days=1)


def connections_keep_alive() -> int:
    """Refresh every connected connection whose refresh token is older than
    XERO_REFRESH_KEEP_ALIVE_DAYS (default 20; Xero lets an unused one die after 60).
    Returns how many were refreshed. Also forgets expired pending sign-ins."""
    PendingAuthorisation.objects.filter(expires_at__lt=timezone.now() - FORGET_PENDING_AFTER).delete()
    PendingAuthorisation.objects.filter(expires_at__lt=timezone.now()).exclude(
        access_token_encrypted="", refresh_token_encrypted="").update(access_token_encrypted="",
                                                                      refresh_token_encrypted="")
    cutoff = timezone.now() - timedelta(days=xero_config().refresh_keep_alive_days)
    due = XeroConnection.objects.filter(is_current=True, status__in=[S.CONNECTED, S.REMOVED_IN_XERO]).exclude(
        refresh_token_encrypted="").filter(refresh_token_issued_at__lt=cutoff).values_list("pk", flat=True)
    refreshed = 0
    for pk in list(due):
        try:
            tokens.access_token(pk, force=True)
            refreshed += 1
        except errors.XeroError as exc:  # tokens.py already moved the state on invalid_grant
            log.warning("xero.token.keep_alive.failed connection=%s error=%s", pk, exc.__class__.__name__)
    return refreshed
