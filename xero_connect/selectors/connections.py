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
