"""The django-q2 tasks the services start, by name, and the one way to start them.

Services sit below the doors (`xero_connect.tasks`), so they name a task by its dotted path
instead of importing it; the paths live here once, and `tests/test_architecture.py` checks
that each one still resolves to a function. A task is started only after the current
transaction commits (`enqueue_on_commit`), so a worker never loads a row that is not
there yet.
"""
from django.db import transaction
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.tasks import async_task

CONNECTION_PROBLEM_NOTIFY = "xero_connect.tasks.connections.connection_problem_notify"
CONNECTIONS_HEALTH_CHECK_ALL = "xero_connect.tasks.connections.connections_health_check_all"
CONNECTIONS_KEEP_ALIVE = "xero_connect.tasks.connections.connections_keep_alive"
EXPORT_DRAIN = "xero_connect.tasks.exports.export_drain"
EXPORT_SWEEP = "xero_connect.tasks.exports.export_sweep"
WEBHOOKS_SWEEP = "xero_connect.tasks.webhooks.webhooks_sweep"
DRIFT_WEBHOOK_EVENTS = "xero_connect.tasks.drift.webhook_events_process"
DRIFT_RECONCILE_ALL = "xero_connect.tasks.drift.reconcile_all"
LISTS_REFRESH_RUN = "xero_connect.tasks.lists.run_refresh"
PORTAL_BULK_JOB_RUN = "xero_connect.tasks.portal.bulk_job_run"

# The periodic runs, created (idempotently) by `manage.py setup_schedules`: (name, task, minutes between runs).
SCHEDULES: list[tuple[str, str, int]] = [
    ("xero.exports.sweep", EXPORT_SWEEP, 1),
    ("xero.webhooks.sweep", WEBHOOKS_SWEEP, 1),
    ("xero.connections.keep_alive", CONNECTIONS_KEEP_ALIVE, 360),
    ("xero.connections.health_check", CONNECTIONS_HEALTH_CHECK_ALL, 30),
    # Drift (#16): webhook events missed by their own enqueue are picked up here; the nightly
    # reconciliation finds changes for organisations without webhooks.
    ("xero.drift.webhook_events", DRIFT_WEBHOOK_EVENTS, 5),
    ("xero.drift.reconcile", DRIFT_RECONCILE_ALL, 24 * 60),
]

ALL = (CONNECTION_PROBLEM_NOTIFY, CONNECTIONS_HEALTH_CHECK_ALL, CONNECTIONS_KEEP_ALIVE,
       EXPORT_DRAIN, EXPORT_SWEEP, LISTS_REFRESH_RUN, PORTAL_BULK_JOB_RUN, WEBHOOKS_SWEEP, DRIFT_WEBHOOK_EVENTS,
       DRIFT_RECONCILE_ALL)


def enqueue_on_commit(task: str, *args, times: int = 1, **options) -> None:
    """Start `task` (one of the names above) with `args` once the current transaction
    commits — at once when there is none. `times` starts that many copies (parallel drains);
    `options` go to django-q2's `async_task` (e.g. `task_name`)."""
    def start():
        for _ in range(times):
            async_task(task, *args, **options)

    transaction.on_commit(start)


def workers_wanted() -> bool:
    """Whether a task is waiting for a django-q2 worker right now: the broker holds more tasks
    (queued, taken ahead by a cluster, or running) than Q_CLUSTER's `workers` — one cluster
    assumed; with several, a long-running task may give its worker back more often than
    needed. On a broker that cannot count what a cluster took ahead (Redis), only the queued
    ones count. Always False when tasks run inline (Q_CLUSTER `sync`). One query."""
    if Conf.SYNC:
        return False
    broker = get_broker()
    if Conf.ORM:
        return broker.get_connection().filter(key=broker.list_key).count() > int(Conf.WORKERS or 1)
    return (broker.queue_size() or 0) > 0
