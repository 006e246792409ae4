from django.apps import AppConfig


class XeroSandboxConfig(AppConfig):
    name = "xero_sandbox"
    verbose_name = "Xero sandbox (local stand-in)"
