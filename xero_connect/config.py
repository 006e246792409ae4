"""The product's Xero settings, read once into a typed, frozen object.

Every module asks `xero_config()` instead of reading `django.conf.settings` itself, so each
setting has one reader and one documented meaning (the README's configuration table; the
defaults and environment variables are in config/settings.py). The object is cached; when a
test changes a setting (pytest-django's `settings` fixture, `override_settings`) Django's
`setting_changed` signal drops the cache, as HackSoft's `s3_get_credentials` does.

It imports nothing of the app, so every floor may use it, the Xero seam included.
"""
from dataclasses import dataclass, fields
from functools import lru_cache

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver


@dataclass(frozen=True)
class XeroConfig:
    # The app's registration with Xero and where Xero is (sandbox URLs in the demo).
    client_id: str
    client_secret: str
    redirect_uri: str
    scopes: tuple[str, ...]
    authorize_url: str
    token_url: str
    revoke_url: str
    connections_url: str
    api_url: str
    deep_link_url: str
    site_url: str                  # this product's own address, for links in emails
    http_timeout: float            # seconds for one request to Xero
    token_refresh_margin: int      # refresh an access token with fewer seconds than this left
    oauth_state_ttl: int           # seconds a started sign-in stays valid
    refresh_keep_alive_days: int   # renew refresh tokens unused for this many days (Xero: 60)
    glance_seconds: int            # the status card asks Xero at most once per this many seconds
    # Xero's call limits as one shared budget (services.ratelimits); time-scalable for tests.
    limit_minute_seconds: float
    limit_day_seconds: float
    limit_tenant_minute: int
    limit_tenant_concurrent: int
    limit_tenant_day: int
    limit_app_minute: int
    limit_margin: float            # extra spacing between calls, as a share of the window
    limit_lease_slack: float       # seconds a concurrency lease outlives the HTTP timeout
    limit_poll_seconds: float      # how soon to ask again when every concurrent slot is busy
    # The export queue (services.exports).
    export_batch_size: int
    export_claim_lease: float
    export_max_attempts: int
    export_backoff_base: float
    export_backoff_max: float
    export_max_inline_wait: float
    export_drain_seconds: float
    export_drains_per_tenant: int
    export_payment_defer: float
    export_due_days: int | None    # due date of exported invoices/bills without one (None: Xero's rule)
    export_periodic_seconds: float  # how often a drain re-checks claims, the connection and job counts
    metrics_budget_top_n: int      # organisations named in the budget gauge of /metrics


def _setting_name(field_name: str) -> str:
    return "SITE_URL" if field_name == "site_url" else f"XERO_{field_name.upper()}"


SETTING_NAMES = frozenset(_setting_name(f.name) for f in fields(XeroConfig))


@lru_cache(maxsize=1)
def xero_config() -> XeroConfig:
    """The current XeroConfig (cached until a setting it holds changes)."""
    values = {f.name: getattr(settings, _setting_name(f.name)) for f in fields(XeroConfig)}
    values["scopes"] = tuple(values["scopes"])
    return XeroConfig(**values)


@receiver(setting_changed)
def _forget_on_setting_changed(*, setting, **kwargs):
    if setting in SETTING_NAMES:
        xero_config.cache_clear()
