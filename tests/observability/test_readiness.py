"""/healthz and /readyz: each readiness failure is named in a 503's JSON body, for a database
that cannot be reached, a broker that does not answer, no worker seen, missing schedules."""
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import Task

from xero_connect.tasks.schedules import ensure_schedules


def readyz():
    response = Client().get("/readyz", REMOTE_ADDR="10.1.2.3", HTTP_HOST="10.1.2.3:8000")  # a probe, by IP
    return response.status_code, response.json()


def worker_finished_task(ago=timedelta(seconds=5)):
    now = timezone.now()
    Task.objects.create(id="t" * 32, name="sweep", func="xero_connect.tasks.exports.export_sweep",
                        started=now - ago, stopped=now - ago, success=True)


def test_healthz_answers_without_database_or_allowed_host():
    response = Client().get("/healthz", HTTP_HOST="10.9.9.9")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_ready_when_database_migrations_broker_worker_and_schedules_are_there():
    ensure_schedules()
    worker_finished_task()
    status, body = readyz()
    assert status == 200, body
    assert body["failed"] == [] and set(body["checks"]) == {"database", "migrations", "broker", "workers", "schedules"}
    assert Client().post("/readyz").status_code == 405


@pytest.mark.django_db
def test_not_ready_when_no_worker_has_been_seen(settings):
    ensure_schedules()
    settings.READYZ_WORKER_MAX_AGE = 60
    worker_finished_task(ago=timedelta(minutes=5))  # a cluster ran once, long ago
    status, body = readyz()
    assert status == 503 and body["failed"] == ["workers"]
    assert "qcluster" in body["checks"]["workers"]["detail"]


@pytest.mark.django_db
def test_not_ready_when_the_schedules_are_missing():
    worker_finished_task()
    status, body = readyz()
    assert status == 503 and body["failed"] == ["schedules"]
    assert "setup_schedules" in body["checks"]["schedules"]["detail"]


@pytest.mark.django_db
def test_not_ready_when_the_broker_does_not_answer(monkeypatch):
    """The Redis broker pointed at a port where nothing listens: a real connection refusal."""
    ensure_schedules()
    worker_finished_task()
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", "redis://127.0.0.1:9/0")
    status, body = readyz()
    assert status == 503 and "broker" in body["failed"]
    assert body["checks"]["broker"]["detail"].startswith("failed: ")
    assert "127.0.0.1" not in str(body)  # no hosts or URLs in a public answer


@pytest.mark.django_db(transaction=True)
def test_not_ready_when_the_database_cannot_be_reached():
    ensure_schedules()
    worker_finished_task()
    saved = dict(connection.settings_dict)
    connection.close()
    if connection.vendor == "sqlite":
        connection.settings_dict["NAME"] = "/nonexistent-directory/xero-connect.sqlite3"
    else:
        connection.settings_dict["PORT"] = "9"  # nothing listens there
    try:
        status, body = readyz()
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)
    assert status == 503 and body["failed"][0] == "database"
    assert set(body["failed"]) >= {"database", "migrations", "workers", "schedules"}
    assert body["checks"]["workers"]["detail"] == "not checked: the database is unreachable"
    status, body = readyz()  # and back
    assert status == 200, body


@pytest.mark.slow
def test_a_real_worker_cluster_makes_it_ready(transactional_db, worker):
    """`manage.py qcluster` started against the test database runs the sweep task (as its
    scheduler does every minute), and that is what /readyz sees: the web process cannot read the
    cluster's statistics from another process's local-memory cache."""
    from django_q.tasks import async_task

    from tests.workers import wait_for

    ensure_schedules()
    assert readyz()[1]["failed"] == ["workers"]
    worker(Q_WORKERS="1")
    async_task("xero_connect.tasks.exports.export_sweep")
    wait_for(lambda: readyz()[0] == 200, timeout=90, interval=0.5, what="/readyz to see the worker")
