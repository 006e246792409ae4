"""Settings for the test suite: the real settings, with django-q2 run synchronously
(tests about the worker itself start real clusters), fast password hashing and a fixed
demo-only encryption key so separate test processes can read each other's tokens."""
import os

os.environ.setdefault("DEBUG", "true")

from .settings import *  # noqa: E402,F401,F403
from .settings import Q_CLUSTER  # noqa: E402

Q_CLUSTER = {**Q_CLUSTER, "sync": True}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
TOKEN_ENCRYPTION_KEYS = ["dGVzdC1vbmx5LWtleS1ub3QtYS1zZWNyZXQtMDAwMDA="]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
XERO_SANDBOX_ENABLED = True
LOGIN_THROTTLE_ATTEMPTS = 5
