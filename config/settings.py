"""Settings for xero_connect.

Every setting that deployments change comes from the environment (django-environ) and has
a safe default for the demo. The README's configuration table lists each of them.
"""
from datetime import timedelta
from pathlib import Path

import environ

from xero_connect.observability.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
VAR_DIR.mkdir(exist_ok=True)

env = environ.Env()
# A local .env (written by scripts/setup with generated keys) is read when present.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=True)

# Demo-only default: refused outside DEBUG by xero_connect.checks.
DEMO_SECRET_KEY = "demo-only-insecure-secret-key-do-not-use-in-production"
SECRET_KEY = env.str("SECRET_KEY", default=DEMO_SECRET_KEY)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")
# The product's name as users know it (used in messages such as "no exchange rate set up in …").
PRODUCT_NAME = env.str("PRODUCT_NAME", default="Xero Connect")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_q",
    "axes",
    "rest_framework",
    "rest_framework_api_key",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "xero_connect",
]

# The local Xero stand-in. On for the demo and the tests, off by default in production.
XERO_SANDBOX_ENABLED = env.bool("XERO_SANDBOX_ENABLED", default=DEBUG)
if XERO_SANDBOX_ENABLED:
    INSTALLED_APPS.append("xero_sandbox")

MIDDLEWARE = [
    # /healthz, /readyz, /metrics answered first; then a request id for the logs (xero_connect.observability).
    "xero_connect.observability.middleware.OpsEndpointsMiddleware",
    "xero_connect.observability.middleware.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "xero_connect.middleware.RefuseUnstorableParametersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "xero_connect.context_processors.organisations",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web process and workers share the file: wait for locks instead of failing at once,
    # and take the write lock at BEGIN so select_for_update-style sections serialise.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", 60)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# Failed sign-ins allowed per username and per address in LOGIN_THROTTLE_WINDOW seconds.
LOGIN_THROTTLE_ATTEMPTS = env.int("LOGIN_THROTTLE_ATTEMPTS", default=5)
LOGIN_THROTTLE_WINDOW = env.int("LOGIN_THROTTLE_WINDOW", default=300)
# django-axes does the counting (see xero_connect/views/auth.py for how it is made atomic).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = LOGIN_THROTTLE_ATTEMPTS
AXES_COOLOFF_TIME = timedelta(seconds=LOGIN_THROTTLE_WINDOW)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = False
AXES_USERNAME_CALLABLE = "xero_connect.views.auth.axes_username"
AXES_CLIENT_IP_CALLABLE = "xero_connect.views.auth.client_address"
AXES_LOCKOUT_CALLABLE = "xero_connect.views.auth.lockout_response"
AXES_VERBOSE = False

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- Cache: local memory by default, Redis when REDIS_URL is set -----------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Email: console by default ---------------------------------------------------------
EMAIL_URL = env.str("EMAIL_URL", default="consolemail://")
vars().update(environ.Env.email_url_config(EMAIL_URL))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="xero-connect@localhost")

# --- Xero -------------------------------------------------------------------------------
# The five base URLs point at the local sandbox by default, so the demo needs no network.
# Production sets them to Xero's (see README).
_SANDBOX = env.str("XERO_SANDBOX_URL", default=f"{SITE_URL}/xero-sandbox")
XERO_CLIENT_ID = env.str("XERO_CLIENT_ID", default="demo-client-id")
XERO_CLIENT_SECRET = env.str("XERO_CLIENT_SECRET", default="demo-client-secret")
XERO_REDIRECT_URI = env.str("XERO_REDIRECT_URI", default=f"{SITE_URL}/xero/callback/")
XERO_SCOPES = env.list(
    "XERO_SCOPES",
    default=[
        "openid", "profile", "email", "offline_access",
        "accounting.settings", "accounting.contacts", "accounting.invoices",
        "accounting.payments", "accounting.manualjournals",
    ],
)
XERO_AUTHORIZE_URL = env.str("XERO_AUTHORIZE_URL", default=f"{_SANDBOX}/identity/connect/authorize")
XERO_TOKEN_URL = env.str("XERO_TOKEN_URL", default=f"{_SANDBOX}/identity/connect/token")
XERO_REVOKE_URL = env.str("XERO_REVOKE_URL", default=f"{_SANDBOX}/identity/connect/revocation")
XERO_CONNECTIONS_URL = env.str("XERO_CONNECTIONS_URL", default=f"{_SANDBOX}/connections")
XERO_API_URL = env.str("XERO_API_URL", default=f"{_SANDBOX}/api.xro/2.0")
# "View in Xero" deep links; the sandbox has its own view pages.
XERO_DEEP_LINK_URL = env.str(
    "XERO_DEEP_LINK_URL", default=f"{_SANDBOX}/organisationlogin/default.aspx"
)
XERO_HTTP_TIMEOUT = env.float("XERO_HTTP_TIMEOUT", default=20.0)
# Refresh the access token when fewer than this many seconds remain.
XERO_TOKEN_REFRESH_MARGIN = env.int("XERO_TOKEN_REFRESH_MARGIN", default=120)
# How long a started sign-in (state + PKCE) stays valid.
XERO_OAUTH_STATE_TTL = env.int("XERO_OAUTH_STATE_TTL", default=600)
# Refresh tokens unused for this many days are renewed (Xero drops them after 60).
XERO_REFRESH_KEEP_ALIVE_DAYS = env.int("XERO_REFRESH_KEEP_ALIVE_DAYS", default=20)
# Opening the status card asks Xero's GET /connections at most once per connection per this many seconds.
XERO_GLANCE_SECONDS = env.int("XERO_GLANCE_SECONDS", default=60)

# Xero's call limits, paced as one budget shared by every worker (services.ratelimits). Window
# lengths are settings so benchmarks and tests can time-scale them to the sandbox's.
XERO_LIMIT_MINUTE_SECONDS = env.float("XERO_LIMIT_MINUTE_SECONDS", default=60.0)
XERO_LIMIT_DAY_SECONDS = env.float("XERO_LIMIT_DAY_SECONDS", default=86400.0)
XERO_LIMIT_TENANT_MINUTE = env.int("XERO_LIMIT_TENANT_MINUTE", default=60)
XERO_LIMIT_TENANT_CONCURRENT = env.int("XERO_LIMIT_TENANT_CONCURRENT", default=5)
XERO_LIMIT_TENANT_DAY = env.int("XERO_LIMIT_TENANT_DAY", default=5000)
XERO_LIMIT_APP_MINUTE = env.int("XERO_LIMIT_APP_MINUTE", default=10000)
# Extra spacing between calls, as a share of the window (absorbs clock and network jitter).
XERO_LIMIT_MARGIN = env.float("XERO_LIMIT_MARGIN", default=0.02)
# How long a concurrency lease outlives the HTTP timeout (a dead process frees its slot then).
XERO_LIMIT_LEASE_SLACK = env.float("XERO_LIMIT_LEASE_SLACK", default=10.0)
XERO_LIMIT_POLL_SECONDS = env.float("XERO_LIMIT_POLL_SECONDS", default=0.05)

# The export queue (services.exports).
XERO_EXPORT_BATCH_SIZE = env.int("XERO_EXPORT_BATCH_SIZE", default=50)
XERO_EXPORT_CLAIM_LEASE = env.float("XERO_EXPORT_CLAIM_LEASE", default=120.0)
XERO_EXPORT_MAX_ATTEMPTS = env.int("XERO_EXPORT_MAX_ATTEMPTS", default=5)
XERO_EXPORT_BACKOFF_BASE = env.float("XERO_EXPORT_BACKOFF_BASE", default=5.0)
XERO_EXPORT_BACKOFF_MAX = env.float("XERO_EXPORT_BACKOFF_MAX", default=300.0)
XERO_EXPORT_MAX_INLINE_WAIT = env.float("XERO_EXPORT_MAX_INLINE_WAIT", default=10.0)
XERO_EXPORT_DRAIN_SECONDS = env.float("XERO_EXPORT_DRAIN_SECONDS", default=240.0)
XERO_EXPORT_DRAINS_PER_TENANT = env.int("XERO_EXPORT_DRAINS_PER_TENANT", default=2)
XERO_EXPORT_PAYMENT_DEFER = env.float("XERO_EXPORT_PAYMENT_DEFER", default=2.0)
# A drain recovers dead workers' claims and stores its jobs' counts at most this often (seconds),
# not after every batch: both read a whole job or the organisation's claims (issue #18).
XERO_EXPORT_PERIODIC_SECONDS = env.float("XERO_EXPORT_PERIODIC_SECONDS", default=2.0)
# Xero requires a DueDate on approved invoices and bills: one missing is the document's date plus
# this many days ("due on receipt" at 0). Empty: no due date is derived, pre-flight asks for one.
_due_days = env("XERO_EXPORT_DUE_DAYS", default="0").strip()
XERO_EXPORT_DUE_DAYS = int(_due_days) if _due_days else None  # a value that is not a whole number stops start-up

# Fernet keys, comma separated, newest first. Older keys still decrypt (rotation).
TOKEN_ENCRYPTION_KEYS = env.list("TOKEN_ENCRYPTION_KEYS", default=[])

# --- Xero sandbox (xero_sandbox/, see docs/sandbox.md) ----------------------------------
# Tunables of the local Xero stand-in; the control endpoint can override them at run time.
XERO_SANDBOX_ACCESS_TOKEN_TTL = env.int("XERO_SANDBOX_ACCESS_TOKEN_TTL", default=1800)
XERO_SANDBOX_REFRESH_TOKEN_TTL = env.int("XERO_SANDBOX_REFRESH_TOKEN_TTL", default=60 * 24 * 3600)
XERO_SANDBOX_REFRESH_GRACE = env.int("XERO_SANDBOX_REFRESH_GRACE", default=1800)
XERO_SANDBOX_CODE_TTL = env.int("XERO_SANDBOX_CODE_TTL", default=300)
XERO_SANDBOX_SESSION_AGE = env.int("XERO_SANDBOX_SESSION_AGE", default=12 * 3600)
XERO_SANDBOX_IDEMPOTENCY_RETENTION = env.int("XERO_SANDBOX_IDEMPOTENCY_RETENTION", default=360)
# Time scale of the limits: how many real seconds "a minute" and "a day" last.
XERO_SANDBOX_MINUTE_SECONDS = env.float("XERO_SANDBOX_MINUTE_SECONDS", default=60.0)
XERO_SANDBOX_DAY_SECONDS = env.float("XERO_SANDBOX_DAY_SECONDS", default=86400.0)
XERO_SANDBOX_LIMIT_CONCURRENT = env.int("XERO_SANDBOX_LIMIT_CONCURRENT", default=5)
XERO_SANDBOX_LIMIT_MINUTE = env.int("XERO_SANDBOX_LIMIT_MINUTE", default=60)
XERO_SANDBOX_LIMIT_DAY = env.int("XERO_SANDBOX_LIMIT_DAY", default=5000)
XERO_SANDBOX_LIMIT_APP_MINUTE = env.int("XERO_SANDBOX_LIMIT_APP_MINUTE", default=10000)
# Standing faults, a JSON list of objects like the control endpoint's "fault" action.
XERO_SANDBOX_FAULTS = env.json("XERO_SANDBOX_FAULTS", default=[])
# When set, /xero-sandbox/control/* requires this value in X-Sandbox-Control-Token.
XERO_SANDBOX_CONTROL_TOKEN = env.str("XERO_SANDBOX_CONTROL_TOKEN", default="")
# --- Webhooks from Xero (#16) ---------------------------------------------------------------
# The app's webhook key (Xero developer portal → Webhooks): x-xero-signature is
# base64(HMAC-SHA256(raw body, key)). Empty: every delivery is refused (401). scripts/setup
# writes a demo key into .env, which the sandbox signs with.
XERO_WEBHOOK_KEY = env.str("XERO_WEBHOOK_KEY", default="")
# Queue the worker as soon as a delivery is stored (on commit). Off: the every-5-minutes
# schedule (tasks/schedules.py) or a test's explicit worker cycle picks the events up.
XERO_WEBHOOK_WORKER_ON_RECEIPT = env.bool("XERO_WEBHOOK_WORKER_ON_RECEIPT", default=True)
XERO_WEBHOOK_MAX_BYTES = env.int("XERO_WEBHOOK_MAX_BYTES", default=1_000_000)
# Events of one delivery Xero sends at most (unconfirmed); more are refused as malformed.
XERO_WEBHOOK_MAX_EVENTS = env.int("XERO_WEBHOOK_MAX_EVENTS", default=1000)
# The sandbox delivers its webhooks here (the product's /xero/webhooks/), signed with
# XERO_WEBHOOK_KEY unless the control endpoint configures another URL/key per sandbox app.
XERO_SANDBOX_WEBHOOK_URL = env.str("XERO_SANDBOX_WEBHOOK_URL", default="")
# "thread": the sandbox delivers after commit in a thread; "manual": events wait until
# xero_sandbox.webhooks.flush() (tests say when Xero's webhook arrives).
XERO_SANDBOX_WEBHOOK_DELIVERY = env.str("XERO_SANDBOX_WEBHOOK_DELIVERY", default="thread")

# --- The host system's API (/api/v1/, xero_connect.api) -------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["xero_connect.api.auth.APIKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["xero_connect.api.auth.HasAPIKey"],
    "DEFAULT_THROTTLE_CLASSES": ["xero_connect.api.auth.APIKeyRateThrottle"],
    "DEFAULT_PARSER_CLASSES": ["xero_connect.api.parsers.DecimalJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "xero_connect.api.problems.exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": None,
}
# Messages live in the server-side session, never in a cookie: the Django admin shows a new API
# key's or webhook endpoint's secret once as a message, and the cookie storage is signed, not
# encrypted (anyone holding the browser's cookies could read it).
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

SPECTACULAR_SETTINGS = {
    "TITLE": "Xero Connect API",
    "DESCRIPTION": "The host system's door: organisations, their Xero connection, lists, documents and exports.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"DocumentTypeEnum": "xero_connect.models.documents.DocumentType",
                            "WebhookEventEnum": "xero_connect.models.webhooks.WebhookEvent",
                            "InXeroStateEnum": "xero_connect.api.serializers.IN_XERO_STATES",
                            "MappingStateEnum": "xero_connect.api.serializers.MAPPING_STATES"},
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "xero_connect.api.schema.add_problem_answers"],
}
# Requests per minute an API key may make unless the key sets its own (429 + Retry-After beyond).
API_RATE_PER_MINUTE = env.int("API_RATE_PER_MINUTE", default=600)
# Largest request body the API reads (413 beyond).
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=4 * 1024 * 1024)
# How long an Idempotency-Key replays its first answer.
API_IDEMPOTENCY_HOURS = env.int("API_IDEMPOTENCY_HOURS", default=24)
# Connect links: how long they stay valid, and where they may send the Admin back to.
API_CONNECT_LINK_TTL = env.int("API_CONNECT_LINK_TTL", default=900)
API_CONNECT_RETURN_HOSTS = env.list("API_CONNECT_RETURN_HOSTS", default=["127.0.0.1", "localhost"])
# Webhooks out: seconds before a delivery attempt is abandoned; hours of failures before an endpoint is disabled.
WEBHOOK_TIMEOUT = env.float("WEBHOOK_TIMEOUT", default=10.0)
WEBHOOK_DISABLE_AFTER_HOURS = env.int("WEBHOOK_DISABLE_AFTER_HOURS", default=24)
# Deliver to http:// and to private, loopback and link-local addresses (the demo and tests); off in production.
WEBHOOK_ALLOW_PRIVATE = env.bool("WEBHOOK_ALLOW_PRIVATE", default=DEBUG)

# --- django-q2 ---------------------------------------------------------------------------
Q_CLUSTER = {
    "name": env.str("Q_CLUSTER_NAME", default="xero_connect"),
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": env.int("Q_TIMEOUT", default=300),
    "retry": env.int("Q_RETRY", default=360),
    "max_attempts": 3,
    "catch_up": False,
    "ack_failures": True,
    "save_limit": 1000,
    "poll": 0.5,
    "sync": env.bool("Q_SYNC", default=False),
    "label": "Task queue",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- Security (effective when DEBUG is off) -------------------------------------------------
# `manage.py serve` (waitress) trusts X-Forwarded-Proto/-For/-Host only from this address (a
# comma-separated list, or "*"); empty: no forwarded header is trusted. See README "Behind a proxy".
TRUSTED_PROXY = env.str("TRUSTED_PROXY", default="")
WAITRESS_THREADS = env.int("WAITRESS_THREADS", default=8)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=60 * 60 * 12)
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"

# --- Operating: logs, metrics, readiness, error reporting (xero_connect.observability) --------
# LOG_FORMAT=json: one JSON object per line with event name and ids; plain text by default.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
LOGGING = logging_config(log_format=LOG_FORMAT, level=env.str("LOG_LEVEL", default="INFO"))
# /metrics answers a bearer token equal to METRICS_TOKEN, or a direct request from loopback.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOW_LOOPBACK = env.bool("METRICS_ALLOW_LOOPBACK", default=True)
# How many of the busiest organisations get a minute-budget gauge (bounded label cardinality).
XERO_METRICS_BUDGET_TOP_N = env.int("XERO_METRICS_BUDGET_TOP_N", default=10)
# /readyz: a worker cluster counts as seen when a task finished this recently (seconds).
READYZ_WORKER_MAX_AGE = env.int("READYZ_WORKER_MAX_AGE", default=180)
# Error reporting with sentry-sdk, off unless SENTRY_DSN is set.
SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    from xero_connect.observability.errors import sentry_init

    sentry_init(dsn=SENTRY_DSN, environment=env.str("SENTRY_ENVIRONMENT", default=""),
                release=env.str("SENTRY_RELEASE", default=""),
                traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0))
