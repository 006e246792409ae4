"""Helpers for tests that start real processes against the test database."""
import os
import sys

from django.conf import settings
from django.db import connection


def database_url_for_children() -> str:
    """A DATABASE_URL naming the database the test run is using right now."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def child_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update({"DJANGO_SETTINGS_MODULE": "config.test_settings", "DATABASE_URL": database_url_for_children(),
                "PYTHONPATH": str(settings.BASE_DIR)})
    env.update({k: str(v) for k, v in extra.items()})
    return env


PYTHON = sys.executable
