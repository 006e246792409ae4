"""The services' way in to a tenant's Accounting API, and what Xero's failures mean for the
connection's state."""
import logging

from ..models import ConnectionStatus, XeroConnection
from ..xero import errors, oauth
from ..xero.accounting import AccountingApi
from . import ratelimits, tokens
from .connection_problems import connection_mark_problem

log = logging.getLogger("xero.access")


def api_for(connection: XeroConnection) -> AccountingApi:
    """An Accounting API client for the connection's tenant, with refresh-once-on-401 and
    Xero's limit headers booked in the shared rate budget."""
    connection_id = connection.pk

    def token_provider(stale_token):
        return tokens.access_token(connection_id, stale_token=stale_token)

    return AccountingApi(
        tenant_id=connection.tenant_id,
        token_provider=token_provider,
        on_response=lambda limits: ratelimits.record_limits(tenant_id=connection.tenant_id, limits=limits),
    )


def tenant_still_listed(connection: XeroConnection) -> bool | None:
    """Is the tenant still in GET /connections? None when that cannot be told right now."""
    try:
        token = tokens.access_token(connection.pk)
        listed = oauth.list_connections(access_token=token)
    except errors.ReauthorisationRequired:
        return None
    except errors.XeroError:
        return None
    return any(c.get("tenantId") == connection.tenant_id for c in listed)


def record_xero_failure(*, connection: XeroConnection, error: errors.XeroError, actor=None) -> None:
    """Move the connection to the state a failure proves. Transient failures change nothing."""
    connection.refresh_from_db()
    if not connection.is_current:
        return
    if isinstance(error, errors.ReauthorisationRequired):
        if connection.status in (ConnectionStatus.CONNECTED, ConnectionStatus.REMOVED_IN_XERO):
            connection_mark_problem(connection, status=ConnectionStatus.NEEDS_RECONNECT, actor=actor,
                                    reason=str(error))
    elif isinstance(error, errors.ConnectionRevoked):
        if connection.status == ConnectionStatus.CONNECTED and tenant_still_listed(connection) is not True:
            connection.refresh_from_db()
            if connection.status != ConnectionStatus.CONNECTED or not connection.is_current:
                return
            connection_mark_problem(
                connection, status=ConnectionStatus.REMOVED_IN_XERO, actor=actor,
                reason="Xero refused access (AuthenticationUnsuccessful) and the organisation is no longer in "
                       "this app's connections: the app was disconnected in Xero.")


def connection_usable(connection: XeroConnection | None) -> bool:
    return bool(connection and connection.is_current and connection.status == ConnectionStatus.CONNECTED
                and connection.has_tokens)
