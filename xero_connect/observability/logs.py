"""Structured logs: one JSON object per line when LOG_FORMAT=json (plain text otherwise).

Each line carries `event` — the dotted event name the code logs first in its message
(`xero.token.refresh.ok connection=12 tenant=…`) — and the ids that are known: `request_id` (from
RequestContextMiddleware), `organisation_id` and `user_id` (the request's), `tenant_id`,
`connection_id` and other ids named in the message as key=value, and `task_id`/`task_name` inside a
django-q2 worker. Every string (message, exception text, extras) passes `scrub.scrub_text`, so a
token that slipped into a message is masked, not written.

Formatting is python-json-logger's; this module only adds the fields and the scrubbing.
"""
import contextvars
import logging
import re

from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

from .scrub import scrub

_request = contextvars.ContextVar("xero_connect_request", default=None)
_task = contextvars.ContextVar("xero_connect_task", default=None)

_EVENT_RE = re.compile(r"^[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+$")
_PAIR_RE = re.compile(r"(?<!\S)([a-z_]+)=(\S+)")
# key=value names in messages → field names in JSON
ID_FIELDS = {"organisation": "organisation_id", "org": "organisation_id", "tenant": "tenant_id",
             "connection": "connection_id", "user": "user_id", "job": "job_id", "refresh": "list_refresh_id",
             "pending": "pending_connection_id"}


def bind_request(request):
    return _request.set(request)


def unbind_request(token) -> None:
    _request.reset(token)


def bind_task(task: dict | None):
    return _task.set(task)


def _request_fields(request) -> dict:
    fields = {"request_id": getattr(request, "request_id", None)}
    organisation = getattr(request, "organisation", None)  # set by the organisation views' decorator
    if organisation is not None:
        fields["organisation_id"] = getattr(organisation, "pk", None)
    user = getattr(request, "user", None)
    if user is not None and getattr(user, "is_authenticated", False):
        fields["user_id"] = user.pk
    return fields


class ContextFilter(logging.Filter):
    """Puts the current request's and django-q2 task's ids on every record (as attributes)."""

    def filter(self, record):
        request = _request.get()
        if request is not None:
            for key, value in _request_fields(request).items():
                if value is not None and not hasattr(record, key):
                    setattr(record, key, value)
        task = _task.get()
        if task:
            record.task_id = task.get("id")
            record.task_name = task.get("name")
        return True


def _id_value(value: str):
    value = value.rstrip(",;")
    return int(value) if value.isdigit() else value


class JsonFormatter(_JsonFormatter):
    """python-json-logger's formatter plus `event`, the ids in the message, and scrubbing."""

    def process_log_record(self, log_data):
        message = str(log_data.get("message") or "")
        first = message.split(" ", 1)[0]
        if _EVENT_RE.match(first):
            log_data.setdefault("event", first)
        for key, value in _PAIR_RE.findall(message):
            field = ID_FIELDS.get(key)
            if field and value not in ("None", ""):
                log_data[field] = _id_value(value)
        return scrub(super().process_log_record(log_data))


def logging_config(*, log_format: str, level: str) -> dict:
    """The LOGGING dict for settings: plain text (default) or one JSON object per line."""
    json_lines = log_format.lower() == "json"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "xero_connect.observability.logs.ContextFilter"}},
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
            "json": {"()": "xero_connect.observability.logs.JsonFormatter",
                     "fmt": "%(levelname)s %(name)s %(message)s", "timestamp": "time",  # ISO 8601, UTC
                     "rename_fields": {"levelname": "level", "name": "logger"}},
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json" if json_lines else "plain",
                                 "filters": ["context"]}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {"django.db.backends": {"level": "WARNING"}},
    }
