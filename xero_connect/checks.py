"""Deployment checks: refuse demo-only secrets when DEBUG is off."""
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


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


@register()
def export_lease_check(app_configs, **kwargs):
    """An item claimed by a worker is recovered (looked up in Xero, then resent) once its claim is
    older than XERO_EXPORT_CLAIM_LEASE. That must outlast any call that can still be at Xero, or
    recovery could race a batch Xero has not committed yet."""
    if settings.XERO_EXPORT_CLAIM_LEASE <= 2 * settings.XERO_HTTP_TIMEOUT:
        return [Warning(
            f"XERO_EXPORT_CLAIM_LEASE ({settings.XERO_EXPORT_CLAIM_LEASE:g} s) should be more than twice "
            f"XERO_HTTP_TIMEOUT ({settings.XERO_HTTP_TIMEOUT:g} s).",
            hint="A shorter lease can recover items whose batch is still being processed by Xero.",
            id="xero_connect.W001")]
    return []
