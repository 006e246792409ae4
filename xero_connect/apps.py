from django.apps import AppConfig


class XeroConnectConfig(AppConfig):
    name = "xero_connect"
    verbose_name = "Xero Connect"

    def ready(self):
        from . import checks  # noqa: F401  (registers system checks)
        from .observability import signals

        signals.install()
