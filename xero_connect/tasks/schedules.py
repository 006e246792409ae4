"""django-q2 schedules of the product (task_queue.SCHEDULES), created (idempotently) by
`manage.py setup_schedules`."""
from django_q.models import Schedule

from .. import task_queue

SCHEDULES = task_queue.SCHEDULES


def ensure_schedules() -> list[str]:
    names = []
    for name, func, minutes in SCHEDULES:
        Schedule.objects.update_or_create(
            name=name, defaults={"func": func, "schedule_type": Schedule.MINUTES, "minutes": minutes, "repeats": -1},
        )
        names.append(name)
    return names
