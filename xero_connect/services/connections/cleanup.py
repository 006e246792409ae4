"""Clean-up in Xero after a (re)connect, a cancelled sign-in or a disconnect: revoke the old
authorisation and delete the connections nobody here uses, so Xero's Connected Apps holds
exactly one connection per organisation (no greyed-out leftovers). Best effort: each step's
outcome is returned in words for the event log, never raised."""
from __future__ import annotations

import logging

from ...models import XeroConnection
from ...xero import errors, oauth
from ..tokens import token_plaintext  # "" for a token no configured key opens: the step is skipped

log = logging.getLogger("xero.connections")


def _adopt_shared_connections(*, pending, organisation) -> None:
    """A consent can include a Xero organisation another of our organisations is linked to
    (a bookkeeper reaching several clients with one Xero login). Xero then moves that
    connection to the new authorisation; record it so that revoking either authorisation
    later is known to be unsafe (see _revoke_is_safe)."""
    shared_tenants = {t["tenantId"] for t in pending.tenants if t["tenantId"] != pending.chosen_tenant_id}
    if shared_tenants:
        XeroConnection.objects.filter(is_current=True, tenant_id__in=shared_tenants,
                                      xero_user_email=pending.xero_user_email).exclude(
            organisation=organisation).update(auth_event_id=pending.auth_event_id)


def _in_use_elsewhere(*, tenant_id: str = "", connection_id: str = "", exclude_pk=None) -> bool:
    qs = XeroConnection.objects.filter(is_current=True).exclude(pk=exclude_pk)
    if tenant_id and qs.filter(tenant_id=tenant_id).exists():
        return True
    return bool(connection_id) and qs.filter(xero_connection_id=connection_id).exists()


def _revoke_is_safe(connection: XeroConnection) -> bool:
    """Revoking a refresh token removes every connection of its authorisation in Xero; not
    when another current connection of ours shares that authorisation."""
    if not connection.auth_event_id:
        return True
    return not XeroConnection.objects.filter(is_current=True, auth_event_id=connection.auth_event_id).exclude(
        pk=connection.pk).exists()


def _outcome_of(fn) -> str:
    try:
        fn()
    except errors.NotFound:
        return "already gone"
    except errors.ReauthorisationRequired:
        return "already gone"
    except (errors.ConnectionRevoked, errors.AccessDenied, errors.TokenExpired):
        return "not allowed (already removed or made by another Xero user)"
    except errors.XeroError as exc:
        return f"failed: {exc.__class__.__name__}"
    return "done"


def _clear_old_authorisations(*, connection: XeroConnection, old: XeroConnection | None, pending) -> dict:
    """Best effort, after the new connection is stored: revoke the old refresh token, delete
    the old connection id (unless Xero reused it for the new one), and delete the
    connections this consent made for Xero organisations the admin did not pick. Returns
    what happened, for the event log."""
    report: dict = {}
    new_token = connection.get_access_token()
    if old is not None:
        if old.has_tokens and _revoke_is_safe(old) and old.auth_event_id != connection.auth_event_id:
            refresh_token = token_plaintext(old.refresh_token_encrypted, what=f"connection={old.pk} refresh")
            report["old_authorisation_revoked"] = (_outcome_of(lambda: oauth.revoke(refresh_token=refresh_token))
                                                   if refresh_token else "not possible: token unreadable")
        if (old.xero_connection_id and old.xero_connection_id != connection.xero_connection_id
                and not _in_use_elsewhere(connection_id=old.xero_connection_id, exclude_pk=connection.pk)):
            report["old_connection_deleted"] = _outcome_of(
                lambda: oauth.delete_connection(access_token=new_token, connection_id=old.xero_connection_id))
        old.clear_tokens()
        old.save(update_fields=["access_token_encrypted", "refresh_token_encrypted", "access_token_expires_at"])
    extras = []
    for tenant in pending.tenants:
        if tenant["tenantId"] == connection.tenant_id or not tenant.get("id"):
            continue
        if _in_use_elsewhere(tenant_id=tenant["tenantId"], connection_id=tenant["id"], exclude_pk=connection.pk):
            extras.append({"tenant": tenant["tenantName"], "outcome": "kept: linked to another organisation here"})
            continue
        extras.append({"tenant": tenant["tenantName"], "outcome": _outcome_of(
            lambda t=tenant: oauth.delete_connection(access_token=new_token, connection_id=t["id"]))})
    if extras:
        report["unpicked_connections_deleted"] = extras
    log.info("xero.connection.cleanup connection=%s report=%s", connection.pk, report)
    return report
