"""The ways a sign-in to Xero can fail to go on; each kind has its own page."""
from __future__ import annotations

from dataclasses import dataclass

from ... import messages as words
from ...models import Organisation
from ...xero import errors


@dataclass(frozen=True)
class SwitchConsequence:
    """What linking another Xero organisation leaves behind: documents exported to the old one."""

    old_tenant_id: str
    old_tenant_name: str
    new_tenant_name: str
    exported_count: int

class ConnectionFlowError(Exception):
    """A sign-in step that cannot go on. `kind` picks the page; `organisation` (when known)
    gives the "Try again" / "Start again" button its target."""

    status_code = 400

    def __init__(self, kind: str, message: str = "", *, organisation: Organisation | None = None,
                 detail: str = "", error: errors.XeroError | None = None):
        super().__init__(message or kind)
        self.kind = kind
        self.organisation = organisation
        self.detail = detail
        self.error = error


class FinishedElsewhere(ConnectionFlowError):
    """Finish was pressed for two sign-ins at once (two tabs) and the other one linked the
    organisation first. This sign-in's authorisation was revoked in Xero and discarded."""

    status_code = 409

    def __init__(self, *, organisation=None):
        super().__init__("finished_elsewhere", organisation=organisation)


class SignInCancelled(ConnectionFlowError):
    status_code = 200

    def __init__(self, *, organisation=None):
        super().__init__("cancelled", words.SIGN_IN_CANCELLED, organisation=organisation)


class SignInTimedOut(ConnectionFlowError):
    """Unknown, expired or tampered state: the "authentication or session timeout" case."""

    def __init__(self, *, organisation=None, detail=""):
        super().__init__("timed_out", "Your sign-in session timed out.", organisation=organisation, detail=detail)


class SignInRefused(ConnectionFlowError):
    """The state belongs to another user (or the pending step to another organisation)."""

    status_code = 403

    def __init__(self, message="This sign-in was started by someone else.", *, organisation=None):
        super().__init__("refused", message, organisation=organisation)


class SwitchConfirmationRequired(ConnectionFlowError):
    status_code = 409

    def __init__(self, *, organisation, consequence: SwitchConsequence):
        super().__init__("switch_confirmation", "Switching the Xero organisation needs your explicit confirmation.",
                         organisation=organisation)
        self.consequence = consequence


class FinishRefusedByXero(Exception):
    """"Finish" needed Xero (GET /Organisation with the new sign-in) and Xero failed or said
    no. Nothing was linked; the Admin may press Finish again. `error` is the seam's typed
    error, for message_for()."""

    status_code = 502

    def __init__(self, error: errors.XeroError):
        super().__init__(str(error))
        self.error = error
