"""Whether a task waits for a worker: the signal a long-running task (the export drain) uses
to give its worker back instead of sleeping on Xero's pacing."""
from django_q.conf import Conf
from django_q.tasks import async_task

from xero_connect import task_queue


def test_a_task_waits_for_a_worker_once_the_broker_holds_more_tasks_than_there_are_workers(
        db, async_queue, monkeypatch):
    monkeypatch.setattr(Conf, "WORKERS", 2)
    assert not task_queue.workers_wanted()
    async_task(task_queue.EXPORT_SWEEP)
    async_task(task_queue.EXPORT_SWEEP)
    assert not task_queue.workers_wanted()  # two tasks, two workers: nobody waits
    async_task(task_queue.EXPORT_SWEEP)
    assert task_queue.workers_wanted()


def test_tasks_run_inline_never_wait(db, monkeypatch):
    monkeypatch.setattr(Conf, "SYNC", True)
    assert not task_queue.workers_wanted()
