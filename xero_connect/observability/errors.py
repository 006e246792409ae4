"""Error reporting with sentry-sdk, off unless SENTRY_DSN is set.

- Django: sentry-sdk's DjangoIntegration (unhandled view errors, with the request) and its logging
  integration (ERROR records become events, lower ones breadcrumbs).
- django-q2: sentry-sdk has no django-q2 integration, and django-q2 loads its own error reporters
  only from packaging entry points (group "djangoq.errorreporters"), which this project — not an
  installed package — cannot declare. So `install_task_reporter` puts a reporter on
  `django_q.worker.error_reporter` at app start (the module global django-q2 1.11 calls inside the
  `except` of every failed task, sync or in a forked worker), which sends the exception with its
  traceback. django-q2's own "Failed '…'" log line for the same task is then dropped as a duplicate.
- Every event passes `before_send`, which masks tokens, authorisation codes, OAuth state, client
  secrets, passwords, cookies and Authorization headers wherever they are: request headers, query
  string and body, exception messages, stack frames' local variables, breadcrumbs, extra data.
  Request bodies are never sent (max_request_body_size="never"); personal data is off (the default).
"""
import logging

from .scrub import scrub

DJANGO_Q_LOGGER = "django-q"


def before_send(event: dict, hint: dict | None = None) -> dict | None:
    """Sentry's before_send: the event with every secret masked (see module docstring), or None
    for django-q2's "Failed" log line of a task the worker reporter already sent."""
    if event.get("logger") == DJANGO_Q_LOGGER and _message(event).startswith("Failed '"):
        return None
    return scrub(event)


def before_breadcrumb(crumb: dict, hint: dict | None = None) -> dict:
    return scrub(crumb)


def _message(event: dict) -> str:
    logentry = event.get("logentry") or {}
    return str(logentry.get("formatted") or logentry.get("message") or event.get("message") or "")


def sentry_init(*, dsn: str, environment: str = "", release: str = "", traces_sample_rate: float = 0.0,
                transport=None) -> None:
    """Start sentry-sdk for this process. `transport` is for tests (a sentry_sdk Transport that
    captures instead of sending)."""
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.logging import LoggingIntegration

    options = dict(
        dsn=dsn, environment=environment or None, release=release or None, traces_sample_rate=traces_sample_rate,
        integrations=[DjangoIntegration(), LoggingIntegration(level=logging.INFO, event_level=logging.ERROR)],
        before_send=before_send, before_breadcrumb=before_breadcrumb,
        include_local_variables=True, max_request_body_size="never",
    )
    if transport is not None:
        options["transport"] = transport
    sentry_sdk.init(**options)


class TaskReporter:
    """django-q2 error reporter: called inside the worker's `except`, sends the current exception."""

    def report(self):
        import sentry_sdk

        sentry_sdk.capture_exception()


def install_task_reporter() -> None:
    """Make django-q2's workers report failed tasks to Sentry (see module docstring)."""
    from django_q import worker
    from django_q.conf import ErrorReporter

    reporter = worker.error_reporter
    if reporter is None:
        worker.error_reporter = ErrorReporter([TaskReporter()])
    elif not any(isinstance(t, TaskReporter) for t in reporter.targets):
        reporter.targets.append(TaskReporter())
