"""The sandbox as Xero, over real HTTP on pytest-django's live_server, and the product's own
OAuth pipeline driven with the sandbox playing the Xero user's consent."""
from urllib.parse import parse_qsl, urlsplit

from xero_connect.models import XeroConnection
from xero_connect.services import connections


class Session(dict):
    """Stands in for request.session in service-level sign-ins."""

    modified = False


# Every setting point_at_sandbox changes; real worker processes are given the same values.
SANDBOX_SETTINGS = ("XERO_AUTHORIZE_URL", "XERO_TOKEN_URL", "XERO_REVOKE_URL", "XERO_CONNECTIONS_URL", "XERO_API_URL",
                    "XERO_DEEP_LINK_URL", "XERO_REDIRECT_URI", "SITE_URL")


def point_at_sandbox(settings, live_server_url: str) -> str:
    base = f"{live_server_url}/xero-sandbox"
    settings.XERO_AUTHORIZE_URL = f"{base}/identity/connect/authorize"
    settings.XERO_TOKEN_URL = f"{base}/identity/connect/token"
    settings.XERO_REVOKE_URL = f"{base}/identity/connect/revocation"
    settings.XERO_CONNECTIONS_URL = f"{base}/connections"
    settings.XERO_API_URL = f"{base}/api.xro/2.0"
    settings.XERO_DEEP_LINK_URL = f"{base}/organisationlogin/default.aspx"
    settings.XERO_REDIRECT_URI = f"{live_server_url}/xero/callback/"
    settings.SITE_URL = live_server_url
    return base


def connect(org, admin, tenant, *, reconnect=False) -> XeroConnection:
    """Connect (or reconnect) `org` to the sandbox organisation `tenant` (ShortCode, id or name)
    as `admin`, through the product's own OAuth pipeline."""
    from xero_sandbox import services as sandbox

    session = Session()
    authorize_url = connections.oauth_start(organisation=org, actor=admin, session=session, reconnect=reconnect)
    callback = sandbox.consent_redirect(authorize_url, tenants=[tenant])
    pending = connections.oauth_callback(session=session, user=admin, params=dict(parse_qsl(urlsplit(callback).query)))
    tenant_id = str(sandbox.organisation_get(tenant).tenant_id)
    return connections.connection_complete(pending=pending, actor=admin, tenant_id=tenant_id)
