"""Settings for the test suite: the real settings, with django-q2 run synchronously
(tests about the worker itself start real clusters), fast password hashing and a fixed
demo-only encryption key so separate test processes can read each other's tokens."""
import os

os.environ.setdefault("DEBUG", "true")

from .settings import *  # noqa: E402,F401,F403
from .settings import Q_CLUSTER  # noqa: E402

# Tests run tasks inline; real worker processes started by tests set Q_SYNC=false (a cluster in
# sync mode shares database connections across its forked processes, which breaks PostgreSQL).
Q_CLUSTER = {**Q_CLUSTER, "sync": os.environ.get("Q_SYNC", "true").lower() not in ("0", "false", "no")}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
TOKEN_ENCRYPTION_KEYS = ["dGVzdC1vbmx5LWtleS1ub3QtYS1zZWNyZXQtMDAwMDA="]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
XERO_SANDBOX_ENABLED = True
LOGIN_THROTTLE_ATTEMPTS = 5
# Tests that drive the sandbox's control endpoint send this (read it from settings).
XERO_SANDBOX_CONTROL_TOKEN = os.environ.get("XERO_SANDBOX_CONTROL_TOKEN") or "test-only-control-token"

# Each test run gets its own SQLite file (parallel runs must not share one), outside the repo.
# Real processes started by tests (workers, concurrency tests) are pointed at it explicitly.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    import tempfile

    _test_db_dir = os.path.join(tempfile.gettempdir(), "xero-connect-tests")
    os.makedirs(_test_db_dir, exist_ok=True)
    DATABASES["default"]["TEST"] = {"NAME": os.path.join(_test_db_dir, f"test-{os.getpid()}.sqlite3")}  # noqa: F405

# No persistent connections in tests: threads of the live server and of the tests themselves
# must not keep database sessions open after they finish.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
# The sandbox's webhooks wait for xero_sandbox.webhooks.flush() in tests (#16).
XERO_SANDBOX_WEBHOOK_DELIVERY = "manual"
