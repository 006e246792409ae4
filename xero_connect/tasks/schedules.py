"""django-q2 schedules of the product, created (idempotently) by `manage.py setup_schedules`.

Each entry: (name, dotted task path, minutes between runs).
"""
from django_q.models import Schedule

SCHEDULES: list[tuple[str, str, int]] = [
    ("xero.exports.sweep", "xero_connect.tasks.exports.export_sweep", 1),
    ("xero.webhooks.sweep", "xero_connect.tasks.webhooks.webhooks_sweep", 1),
    ("xero.connections.keep_alive", "xero_connect.tasks.connections.connections_keep_alive", 360),
    ("xero.connections.health_check", "xero_connect.tasks.connections.connections_health_check_all", 30),
    # Drift (#16): webhook events missed by their own enqueue are picked up here; the nightly
    # reconciliation finds changes for organisations without webhooks.
    ("xero.drift.webhook_events", "xero_connect.tasks.drift.webhook_events_process", 5),
    ("xero.drift.reconcile", "xero_connect.tasks.drift.reconcile_all", 24 * 60),
]


def ensure_schedules() -> list[str]:
    names = []
    for name, func, minutes in SCHEDULES:
        Schedule.objects.update_or_create(
            name=name, defaults={"func": func, "schedule_type": Schedule.MINUTES, "minutes": minutes, "repeats": -1},
        )
        names.append(name)
    return names
