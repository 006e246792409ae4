"""The connection lifecycle, a package; these are its doors:

- `oauth_flow`: connect and reconnect (the OAuth pipeline), choose the Xero organisation, "Finish";
- `cleanup`: clearing old authorisations and unpicked connections in Xero;
- `disconnect`: `connection_disconnect`;
- `keep_alive`: `connections_keep_alive`;
- `failures`: the sign-in failures the pages turn into words.

What a broken connection means (its state, the Admins' email) lives one floor down, in
services.connection_problems.
"""
from .disconnect import connection_disconnect
from .failures import (ConnectionFlowError, FinishedElsewhere, FinishRefusedByXero, SignInCancelled, SignInRefused,
                       SignInTimedOut, SwitchConfirmationRequired, SwitchConsequence)
from .keep_alive import connections_keep_alive
from .oauth_flow import (SESSION_KEY, connection_complete, connection_switch_consequence,
                         oauth_callback, oauth_start, pending_choose, pending_currency_mismatch, pending_discard,
                         pending_is_open, pending_tenant)

__all__ = [
    "ConnectionFlowError", "FinishedElsewhere", "FinishRefusedByXero", "SESSION_KEY", "SignInCancelled", "SignInRefused", "SignInTimedOut",
    "SwitchConfirmationRequired", "SwitchConsequence", "connection_complete", "connection_disconnect",
    "connection_switch_consequence", "connections_keep_alive", "oauth_callback", "oauth_start", "pending_choose",
    "pending_currency_mismatch", "pending_discard", "pending_is_open", "pending_tenant",
]
