"""django-q2 schedules of the product, created (idempotently) by `manage.py setup_schedules`.

Each entry: (name, dotted task path, minutes between runs).
"""
from django_q.models import Schedule

from .. import task_queue

SCHEDULES: list[tuple[str, str, int]] = [
    ("xero.exports.sweep", task_queue.EXPORT_SWEEP, 1),
    ("xero.connections.keep_alive", task_queue.CONNECTIONS_KEEP_ALIVE, 360),
    ("xero.connections.health_check", task_queue.CONNECTIONS_HEALTH_CHECK_ALL, 30),
]


def ensure_schedules() -> list[str]:
    names = []
    for name, func, minutes in SCHEDULES:
        Schedule.objects.update_or_create(
            name=name, defaults={"func": func, "schedule_type": Schedule.MINUTES, "minutes": minutes, "repeats": -1},
        )
        names.append(name)
    return names
