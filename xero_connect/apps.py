from django.apps import AppConfig


class XeroConnectConfig(AppConfig):
    name = "xero_connect"
    verbose_name = "Xero Connect"

    def ready(self):
        from . import checks  # noqa: F401  (registers system checks)
        from .observability import signals

        signals.install()

        from . import connection_states
        from .services import webhooks_out

        if webhooks_out.connection_status_changed not in connection_states.TRANSITION_LISTENERS:
            connection_states.TRANSITION_LISTENERS.append(webhooks_out.connection_status_changed)
