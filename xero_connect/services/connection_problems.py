"""What a broken connection means, in one place, on the lowest services floor.

Every code path that finds a connection Xero no longer accepts — the token refresh
(`invalid_grant`), an API call (403 AuthenticationUnsuccessful), the health check — comes
here: the connection moves to "needs reconnect" or "removed in Xero" through
`connection_states`, and, when it was working until now, every Admin of the organisation
is emailed the Reconnect link (once, after the transaction commits).

This module imports only floors below the services (models, connection_states, roles,
selectors), so the token refresh and the Xero access layer can call it without importing
back up into the connection lifecycle.
"""
import logging

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse

from .. import connection_states, roles, task_queue
from ..config import xero_config
from ..models import ConnectionEvent, ConnectionStatus, Organisation, XeroConnection
from ..selectors.connections import presentation

log = logging.getLogger("xero.connections")

PROBLEM_TRANSITIONS = {
    ConnectionStatus.NEEDS_RECONNECT: connection_states.mark_needs_reconnect,
    ConnectionStatus.REMOVED_IN_XERO: connection_states.mark_removed_in_xero,
}


def connection_mark_problem(connection: XeroConnection, *, status: str, reason: str, actor=None,
                            details=None) -> ConnectionEvent | None:
    """Move a current connection into `status` ("needs_reconnect" or "removed_in_xero") when
    its state machine allows it, and email the Admins when it was working until now.

    Returns the ConnectionEvent of the move, or None when nothing moved (already there, not
    current, or the transition is not allowed from the current state). Raises KeyError for
    any other `status`."""
    transition = PROBLEM_TRANSITIONS[status]
    if connection.status == status or not connection.is_current:
        return None
    if not connection_states.allowed(transition.__name__, connection.status):
        return None
    was_working = connection.status == ConnectionStatus.CONNECTED
    event = transition(connection, actor=actor, reason=reason, details=details)
    if was_working:
        task_queue.enqueue_on_commit(task_queue.CONNECTION_PROBLEM_NOTIFY, connection.pk)
    return event


def _site_url(path: str) -> str:
    return xero_config().site_url.rstrip("/") + path


def reconnect_url(organisation: Organisation) -> str:
    """The absolute URL of the organisation's Reconnect page (for emails)."""
    return _site_url(reverse("connection_reconnect", args=[organisation.slug]))


def connection_page_url(organisation: Organisation) -> str:
    """The absolute URL of the organisation's connection page (status and history)."""
    return _site_url(reverse("connection_page", args=[organisation.slug]))


def connection_problem_notify(*, connection_id: int) -> int:
    """Email the organisation's Admins that the connection needs them. Returns emails sent
    (0 when the connection is gone or no longer has a problem). A failing mail server is
    logged and counted as not sent, never raised."""
    connection = XeroConnection.objects.select_related("organisation").filter(pk=connection_id).first()
    if connection is None or connection.status not in PROBLEM_TRANSITIONS:
        return 0
    organisation = connection.organisation
    status = presentation(connection)
    sent = 0
    for admin in roles.admins_of(organisation):
        if not admin.email:
            continue
        context = {"organisation": organisation, "connection": connection, "status": status,
                   "admin_name": roles.display_name(admin), "reconnect_url": reconnect_url(organisation),
                   "connection_url": connection_page_url(organisation)}
        subject = render_to_string("email/connection_problem_subject.txt", context).strip()
        body = render_to_string("email/connection_problem.txt", context)
        try:
            sent += send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [admin.email])
        except Exception:  # noqa: BLE001 - a mail server hiccup must not break the caller
            log.exception("xero.connection.notify.failed connection=%s", connection.pk)
    connection_states.record_check(
        organisation=organisation, connection=connection, kind=ConnectionEvent.Kind.NOTE,
        reason=f"Emailed {sent} admin{'s' if sent != 1 else ''} the reconnect link", outcome="ok" if sent else "problem")
    log.info("xero.connection.notify organisation=%s connection=%s sent=%s", organisation.pk, connection.pk, sent)
    return sent
