from ..models import ConnectionEvent, Role
from ..roles import ADMIN_ONLY_ACTIONS, PERMISSIONS
from .connections import current_connection, presentation


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
        "recent_events": ConnectionEvent.objects.filter(organisation=organisation)
        .select_related("actor")[:10],
    }
