"""The checks behind /readyz. Each is cheap (one query or one broker round trip) and answers
(ok, detail) where `detail` is safe to show anyone: no URLs, hosts or secrets.

- database: a connection and `SELECT 1`;
- migrations: no unapplied migration (the answer is remembered once true: a running process
  cannot lose applied migrations);
- broker: django-q2's broker answers (Redis PING; with the ORM broker, a count of queued tasks);
- workers: a django-q2 cluster was seen recently — a cluster statistic in the broker/cache
  (django_q.status.Stat, kept for a few seconds by every running cluster), or a task that
  finished within READYZ_WORKER_MAX_AGE seconds. The second signal is what works with the ORM
  broker and Django's local-memory cache, where the web process cannot see the workers' Stat;
  the every-minute export sweep keeps it fresh while a cluster runs;
- schedules: every schedule of xero_connect.tasks.schedules exists.
"""
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from .. import task_queue

_migrations_done = False


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


def check_database() -> Check:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return Check("database", True)


def check_migrations() -> Check:
    global _migrations_done
    if _migrations_done:
        return Check("migrations", True)
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if pending:
        return Check("migrations", False, f"{len(pending)} migration(s) not applied; run manage.py migrate")
    _migrations_done = True
    return Check("migrations", True)


def broker():
    from django_q.brokers import get_broker

    return get_broker()


def check_broker() -> Check:
    b = broker()
    if b.ping() is False:
        return Check("broker", False, "the task broker did not answer")
    return Check("broker", True, f"{b.queue_size()} task(s) waiting")


def check_workers() -> Check:
    from django_q.models import Task
    from django_q.status import Stat

    clusters = [s for s in (Stat.get_all(broker=broker()) or []) if getattr(s, "status", "") != "Stopped"]
    if clusters:
        return Check("workers", True, f"{len(clusters)} cluster(s) running")
    since = timezone.now() - timedelta(seconds=settings.READYZ_WORKER_MAX_AGE)
    if Task.objects.filter(stopped__gte=since).exists():
        return Check("workers", True, "a task finished recently")
    return Check("workers", False, f"no worker cluster seen in the last {settings.READYZ_WORKER_MAX_AGE} s; "
                                   "start manage.py qcluster")


def check_schedules() -> Check:
    from django_q.models import Schedule

    wanted = {name for name, _func, _minutes in task_queue.SCHEDULES}
    present = set(Schedule.objects.filter(name__in=wanted).values_list("name", flat=True))
    missing = sorted(wanted - present)
    if missing:
        return Check("schedules", False, f"missing {', '.join(missing)}; run manage.py setup_schedules")
    return Check("schedules", True)


CHECKS = (check_database, check_migrations, check_broker, check_workers, check_schedules)


def readiness() -> list[Check]:
    """Run every check in order; a check that raises fails with the exception's class name.
    Once the database fails, the checks that need it are reported as not run."""
    results: list[Check] = []
    database_down = False
    for check in CHECKS:
        name = check.__name__.removeprefix("check_")
        if database_down and name in ("migrations", "workers", "schedules"):
            results.append(Check(name, False, "not checked: the database is unreachable"))
            continue
        try:
            results.append(check())
        except Exception as exc:  # noqa: BLE001 — every failure is a failed check, never a 500
            results.append(Check(name, False, f"failed: {exc.__class__.__name__}"))
            database_down = database_down or name == "database"
    return results
