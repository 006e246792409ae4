"""Hooks into django-q2, connected once at app start (XeroConnectConfig.ready)."""
from django.conf import settings


def _task_started(sender, func=None, task=None, **kwargs):
    from . import logs

    task = task or {}
    logs.bind_task({"id": task.get("id"), "name": task.get("name")})


def _task_finished(sender, func=None, task=None, **kwargs):
    from . import logs

    logs.bind_task(None)


def install() -> None:
    """Task ids on every log line a worker writes; failed tasks to Sentry when SENTRY_DSN is set."""
    from django_q.signals import post_execute_in_worker, pre_execute

    pre_execute.connect(_task_started, dispatch_uid="xero_connect.logs.task_started")
    post_execute_in_worker.connect(_task_finished, dispatch_uid="xero_connect.logs.task_finished")
    if settings.SENTRY_DSN:
        from .errors import install_task_reporter

        install_task_reporter()
