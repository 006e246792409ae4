"""Xero failures in plain words, each with the one next step. The only place that does this."""
from dataclasses import dataclass

from .xero import errors


@dataclass(frozen=True)
class UserMessage:
    title: str
    explanation: str
    next_step: str
    action: str  # reconnect / ask_admin / wait / fix_data / retry / none
    severity: str = "warn"  # ok / warn / bad

    def __str__(self):
        return f"{self.title}. {self.explanation} {self.next_step}"


def message_for(error: Exception, *, retry_at=None) -> UserMessage:
    if isinstance(error, errors.ReauthorisationRequired):
        return UserMessage(
            "Xero needs you to sign in again",
            "Xero no longer accepts this connection's sign-in: it expired, was revoked, or was replaced.",
            "An Admin should press Reconnect and sign in to Xero. Waiting exports will then go out by themselves.",
            "reconnect", "bad")
    if isinstance(error, errors.ConnectionRevoked):
        return UserMessage(
            "The app was disconnected in Xero",
            "Xero refused access to this organisation: the app was removed from Xero's Connected Apps.",
            "An Admin should press Reconnect and select the organisation again. Waiting exports will then go out "
            "by themselves.", "reconnect", "bad")
    if isinstance(error, errors.AccessDenied):
        return UserMessage(
            "Xero did not grant a permission this needs",
            f"Xero answered: {error.detail or error}.",
            "An Admin should press Reconnect and allow every permission Xero asks for.", "reconnect", "bad")
    if isinstance(error, errors.RateLimited):
        when = f" after {retry_at:%H:%M:%S}" if retry_at else f" in about {int(error.retry_after)} seconds"
        return UserMessage(
            "Xero asked us to slow down",
            f"Xero limits how many calls an app makes per organisation ({error.problem or 'rate'} limit reached).",
            f"Nothing to do: waiting items go out by themselves{when}.", "wait")
    if isinstance(error, errors.ValidationFailed):
        msgs = "; ".join(error.messages) or str(error)
        return UserMessage(
            "Xero refused this document", f"Xero said: {msgs}",
            "Fix the document (or the lists it uses) and press Retry.", "fix_data")
    if isinstance(error, errors.XeroUnavailable):
        return UserMessage(
            "Xero is not answering right now",
            f"{error} This is usually brief (maintenance or a network hiccup).",
            "Nothing to do: we retry by itself, and nothing is sent twice.", "wait")
    if isinstance(error, errors.OAuthError):
        return UserMessage(
            "Xero refused the sign-in", f"Xero said: {error}.",
            "Try again; if it keeps failing, contact support (the app's Xero credentials may be wrong).", "retry", "bad")
    if isinstance(error, errors.NotFound):
        return UserMessage("Xero could not find it", str(error), "Export it again.", "retry")
    return UserMessage("Something went wrong talking to Xero", str(error), "Try again in a moment.", "retry")
