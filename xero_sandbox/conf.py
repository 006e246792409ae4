"""The sandbox's tunables: a Django setting gives the default, the control endpoint can
override it at run time (stored in the database so every process sees it)."""
from django.conf import settings

from .models import RuntimeSetting

DEFAULTS = {
    # identity
    "ACCESS_TOKEN_TTL": 1800,
    "REFRESH_TOKEN_TTL": 60 * 24 * 3600,
    "REFRESH_GRACE": 1800,
    "CODE_TTL": 300,
    "SESSION_AGE": 12 * 3600,
    # idempotency
    "IDEMPOTENCY_RETENTION": 360,
    # limits: how long a "minute" and a "day" last, in real seconds (time scale)
    "MINUTE_SECONDS": 60.0,
    "DAY_SECONDS": 86400.0,
    "LIMIT_CONCURRENT": 5,
    "LIMIT_MINUTE": 60,
    "LIMIT_DAY": 5000,
    "LIMIT_APP_MINUTE": 10000,
    # where the fixed windows start (epoch seconds); services.limits_reset() moves it to now
    "LIMITS_EPOCH": 0.0,
}

NAMES = tuple(DEFAULTS)


def get(name):
    """The current value of XERO_SANDBOX_<name>: runtime override, else setting, else default."""
    row = RuntimeSetting.objects.filter(name=name).values_list("value", flat=True).first()
    if row is not None:
        return row
    return getattr(settings, f"XERO_SANDBOX_{name}", DEFAULTS[name])


def get_many(*names):
    overrides = dict(RuntimeSetting.objects.filter(name__in=names).values_list("name", "value"))
    return {
        name: overrides[name] if name in overrides else getattr(settings, f"XERO_SANDBOX_{name}", DEFAULTS[name])
        for name in names
    }


def set_many(values):
    unknown = set(values) - set(NAMES)
    if unknown:
        raise ValueError(f"Unknown sandbox setting(s): {', '.join(sorted(unknown))}")
    for name, value in values.items():
        if value is None:
            RuntimeSetting.objects.filter(name=name).delete()
        else:
            RuntimeSetting.objects.update_or_create(name=name, defaults={"value": value})
