"""Deployment checks: refuse demo-only secrets when DEBUG is off."""
from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def demo_secrets_check(app_configs, **kwargs):
    errors = []
    if not settings.DEBUG and settings.SECRET_KEY == getattr(settings, "DEMO_SECRET_KEY", None):
        errors.append(Error("SECRET_KEY is the demo-only default.", id="xero_connect.E001"))
    if not settings.DEBUG and not [k for k in settings.TOKEN_ENCRYPTION_KEYS if k]:
        errors.append(Error("TOKEN_ENCRYPTION_KEYS is not set.", id="xero_connect.E002"))
    if not settings.DEBUG and settings.XERO_SANDBOX_ENABLED:
        errors.append(
            Error("The Xero sandbox is enabled in production.", hint="Set XERO_SANDBOX_ENABLED=false.",
                  id="xero_connect.E003")
        )
    return errors
