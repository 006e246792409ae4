"""django-q2 entry points of the connection lifecycle. Thin: each calls one service."""
from ..services import connection_problems, connections, diagnosis


def connections_keep_alive() -> int:
    """Scheduled: refresh refresh tokens that have not been used for a while."""
    return connections.connections_keep_alive()


def connections_health_check_all() -> dict:
    """Scheduled: health-check every organisation that has a current connection."""
    return diagnosis.connections_health_check_all()


def connection_problem_notify(connection_id: int) -> int:
    return connection_problems.connection_problem_notify(connection_id=connection_id)
