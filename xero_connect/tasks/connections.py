"""django-q2 entry points of the connection lifecycle. Thin: each calls one service."""
from ..models import Organisation
from ..services import connections, diagnosis


def connections_keep_alive() -> int:
    """Scheduled: refresh refresh tokens that have not been used for a while."""
    return connections.connections_keep_alive()


def connections_health_check_all() -> dict:
    """Scheduled: health-check every organisation that has a current connection."""
    return diagnosis.connections_health_check_all()


def connection_health_check(organisation_id: int) -> str:
    organisation = Organisation.objects.filter(pk=organisation_id).first()
    if organisation is None:
        return "gone"
    return diagnosis.connection_health_check(organisation=organisation).situation


def connection_problem_notify(connection_id: int) -> int:
    return connections.connection_problem_notify(connection_id=connection_id)
