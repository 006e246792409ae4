from dataclasses import dataclass

from .. import messages as words
from ..connection_states import NOT_CONNECTED
from ..models import ConnectionStatus, XeroConnection


@dataclass(frozen=True)
class StatusPresentation:
    code: str
    words: str
    colour: str  # css modifier: ok / warn / bad / off
    summary: str


_COLOURS = {ConnectionStatus.CONNECTED: "ok", ConnectionStatus.NEEDS_RECONNECT: "warn",
            ConnectionStatus.REMOVED_IN_XERO: "bad", NOT_CONNECTED: "off"}
# Names and facts come from the one module for words; the instruction depends on the reader.
PRESENTATION = {
    code: StatusPresentation(str(code), words.STATE_NAMES[code], colour, words.STATE_FACTS[code])
    for code, colour in _COLOURS.items()
}


def current_connection(*, organisation) -> XeroConnection | None:
    return XeroConnection.objects.filter(organisation=organisation, is_current=True).first()


def status_code(connection: XeroConnection | None) -> str:
    return connection.status if connection is not None and connection.is_current else NOT_CONNECTED


def presentation(connection: XeroConnection | None) -> StatusPresentation:
    return PRESENTATION[status_code(connection)]


def lists_tenant_ids(*, organisation_ids) -> dict[int, str]:
    """{organisation id: the Xero tenant whose lists and ids count for it now}: the current
    connection's tenant, or, when none is current, the most recently connected one's (so the
    Lists page still shows what was last known). Organisations never connected are absent.
    One query."""
    out: dict[int, str] = {}
    rows = (XeroConnection.objects.filter(organisation_id__in=list(organisation_ids))
            .order_by("organisation_id", "-is_current", "-connected_at", "-pk")
            .values_list("organisation_id", "tenant_id"))
    for organisation_id, tenant_id in rows:
        out.setdefault(organisation_id, tenant_id)
    return out


def lists_tenant_id(*, organisation) -> str:
    """The Xero tenant whose lists count for `organisation` now ("" when never connected)."""
    return lists_tenant_ids(organisation_ids=[organisation.pk]).get(organisation.pk, "")
