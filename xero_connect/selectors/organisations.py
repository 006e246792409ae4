from ..models import ConnectionEvent, Role
from ..roles import ADMIN_ONLY_ACTIONS, PERMISSIONS
from .connections import current_connection, presentation

RECENT_EVENTS = 10


def _unfinished_sign_in(event: ConnectionEvent) -> bool:
    return event.kind == ConnectionEvent.Kind.OAUTH and event.outcome == "started"


def fold_sign_ins(events, *, limit: int) -> list[ConnectionEvent]:
    """Newest-first events with each run of consecutive sign-ins that were started and never
    finished shown once: the newest of the run, with `earlier_attempts` = how many it hides."""
    folded: list[ConnectionEvent] = []
    for event in events:
        event.earlier_attempts = 0
        if folded and _unfinished_sign_in(event) and _unfinished_sign_in(folded[-1]):
            folded[-1].earlier_attempts += 1
            continue
        if len(folded) == limit:
            break
        folded.append(event)
    return folded


def recent_events(*, organisation, limit: int = RECENT_EVENTS) -> list[ConnectionEvent]:
    """The organisation's latest connection events, abandoned sign-ins folded (reads at most
    5 × `limit` rows)."""
    rows = ConnectionEvent.objects.filter(organisation=organisation).select_related("actor", "connection")
    return fold_sign_ins(rows[: limit * 5], limit=limit)


def organisation_home_context(*, organisation, membership) -> dict:
    connection = current_connection(organisation=organisation)
    allowed = PERMISSIONS.get(membership.role, frozenset())
    return {
        "organisation": organisation,
        "membership": membership,
        "is_admin": membership.role == Role.ADMIN,
        "allowed_actions": allowed,
        "admin_only_actions": ADMIN_ONLY_ACTIONS,
        "connection": connection,
        "status": presentation(connection),
        "recent_events": recent_events(organisation=organisation),
    }
