"""The connection state machine: named transitions, each recorded as a ConnectionEvent.

An organisation without a current connection is "not connected" (NOT_CONNECTED below);
`establish` takes it to connected. Disconnected rows are history and never change again.
"""
from django.db import transaction
from django.utils import timezone

from .models import ConnectionEvent, ConnectionStatus, XeroConnection

NOT_CONNECTED = "not_connected"
S = ConnectionStatus


class IllegalTransition(Exception):
    def __init__(self, transition: str, from_status: str):
        self.transition = transition
        self.from_status = from_status
        super().__init__(f"'{transition}' is not allowed from '{from_status}'.")


# transition name -> (allowed from-states, to-state)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "establish": (frozenset({NOT_CONNECTED}), S.CONNECTED),
    "mark_needs_reconnect": (frozenset({S.CONNECTED, S.REMOVED_IN_XERO}), S.NEEDS_RECONNECT),
    "mark_removed_in_xero": (frozenset({S.CONNECTED, S.NEEDS_RECONNECT}), S.REMOVED_IN_XERO),
    "mark_recovered": (frozenset({S.NEEDS_RECONNECT, S.REMOVED_IN_XERO}), S.CONNECTED),
    "disconnect": (frozenset({S.CONNECTED, S.NEEDS_RECONNECT, S.REMOVED_IN_XERO}), S.DISCONNECTED),
    "replace": (frozenset({S.CONNECTED, S.NEEDS_RECONNECT, S.REMOVED_IN_XERO}), S.DISCONNECTED),
}


def allowed(transition: str, from_status: str) -> bool:
    sources, _ = TRANSITIONS[transition]
    return from_status in sources


def _apply(connection: XeroConnection, transition: str, *, actor=None, reason: str = "", details=None,
           from_status: str | None = None) -> ConnectionEvent:
    current = from_status if from_status is not None else connection.status
    if not allowed(transition, current):
        raise IllegalTransition(transition, current)
    _, target = TRANSITIONS[transition]
    now = timezone.now()
    with transaction.atomic():
        connection.status = target
        fields = ["status"]
        if target == S.DISCONNECTED:
            connection.is_current = False
            connection.disconnected_at = now
            fields += ["is_current", "disconnected_at"]
        if target in (S.NEEDS_RECONNECT, S.REMOVED_IN_XERO):
            connection.last_error = reason
            connection.last_error_at = now
            fields += ["last_error", "last_error_at"]
        if target == S.CONNECTED and current != NOT_CONNECTED:
            connection.last_error = ""
            fields += ["last_error"]
        if connection.pk:
            connection.save(update_fields=fields)
        else:
            connection.save()
        if current != target:
            _status_changed(connection, current=current, target=target, reason=reason)
        return ConnectionEvent.objects.create(
            organisation_id=connection.organisation_id,
            connection=connection,
            kind=ConnectionEvent.Kind.TRANSITION,
            transition=transition,
            from_status=current,
            to_status=target,
            actor=actor,
            by_person=actor is not None,
            reason=reason,
            details=details or {},
            xero_user=connection.xero_user_email or connection.xero_user_name,
            created_at=now,
        )


# Told of every transition, in the same transaction: listener(connection, current=, target=, reason=).
# The webhooks service registers itself at start-up (apps.py), so this floor imports nothing above it.
TRANSITION_LISTENERS: list = []


def _status_changed(connection: XeroConnection, *, current: str, target: str, reason: str) -> None:
    for listener in TRANSITION_LISTENERS:
        listener(connection, current=current, target=target, reason=reason)


def establish(connection: XeroConnection, *, actor=None, reason: str = "Connected to Xero") -> ConnectionEvent:
    """A new (unsaved or just created) connection row becomes the organisation's current one."""
    connection.is_current = True
    return _apply(connection, "establish", actor=actor, reason=reason, from_status=NOT_CONNECTED)


def mark_needs_reconnect(connection, *, actor=None, reason: str, details=None) -> ConnectionEvent:
    return _apply(connection, "mark_needs_reconnect", actor=actor, reason=reason, details=details)


def mark_removed_in_xero(connection, *, actor=None, reason: str, details=None) -> ConnectionEvent:
    return _apply(connection, "mark_removed_in_xero", actor=actor, reason=reason, details=details)


def mark_recovered(connection, *, actor=None, reason: str, details=None) -> ConnectionEvent:
    return _apply(connection, "mark_recovered", actor=actor, reason=reason, details=details)


def disconnect(connection, *, actor=None, reason: str = "Disconnected", details=None) -> ConnectionEvent:
    return _apply(connection, "disconnect", actor=actor, reason=reason, details=details)


def replace(connection, *, actor=None, reason: str = "Replaced by a reconnect", details=None) -> ConnectionEvent:
    return _apply(connection, "replace", actor=actor, reason=reason, details=details)


def record_check(*, organisation, connection=None, actor=None, reason: str, outcome: str, details=None,
                 kind: str = ConnectionEvent.Kind.CHECK) -> ConnectionEvent:
    """Checks, token refreshes and sign-in steps leave an event too, without a status change."""
    status = connection.status if connection else NOT_CONNECTED
    return ConnectionEvent.objects.create(
        organisation=organisation, connection=connection, kind=kind, from_status=status, to_status=status,
        actor=actor, by_person=actor is not None, reason=reason, outcome=outcome, details=details or {},
    )
