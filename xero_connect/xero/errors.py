"""Typed errors of the Xero seam. Services decide what they mean; `messages.message_for`
turns them into words for people."""


class XeroError(Exception):
    """Base of every failure talking to Xero."""

    def __init__(self, message: str = "", *, status: int | None = None, detail: str = ""):
        super().__init__(message or self.__class__.__name__)
        self.status = status
        self.detail = detail


class TokenExpired(XeroError):
    """401 from the API: the access token expired or is not accepted. Refresh and retry once."""


class ReauthorisationRequired(XeroError):
    """invalid_grant: the refresh token (or code) is expired, revoked or reused. A person must
    sign in to Xero again. `INVALID_GRANT` is the seam's one wording of it (log and detail text;
    pages word it with messages.message_for)."""

    INVALID_GRANT = "Xero no longer accepts this sign-in (invalid_grant)."


class ConnectionRevoked(XeroError):
    """403 AuthenticationUnsuccessful: the app was disconnected from this tenant (often on
    Xero's side), or the tenant is gone from /connections."""


class AccessDenied(XeroError):
    """403 for another reason, e.g. a scope the connection was not granted."""


class NotFound(XeroError):
    """404 from Xero."""


class RateLimited(XeroError):
    """429. `retry_after` seconds until Xero accepts calls again; `problem` says which limit
    (minute, day, appminute, concurrent)."""

    def __init__(self, message: str = "", *, retry_after: float = 60.0, problem: str = "", status: int = 429):
        super().__init__(message or f"Rate limited ({problem or 'unknown'}), retry after {retry_after}s", status=status)
        self.retry_after = retry_after
        self.problem = problem


class ValidationFailed(XeroError):
    """400 ValidationException (or another 400): Xero refused the request's content.
    `elements` is Xero's list; `messages` the validation messages, verbatim."""

    def __init__(self, message: str = "", *, elements=None, messages=None, status: int = 400, detail: str = ""):
        super().__init__(message or "; ".join(messages or []) or "Xero refused the request", status=status,
                         detail=detail)
        self.elements = elements or []
        self.messages = messages or []


class XeroUnavailable(XeroError):
    """5xx, timeouts, broken connections, unreadable bodies. `maybe_committed` is True when a
    write may have been applied by Xero although no answer arrived."""

    def __init__(self, message: str = "", *, status: int | None = None, maybe_committed: bool = False,
                 detail: str = ""):
        super().__init__(message or "Xero is unavailable", status=status, detail=detail)
        self.maybe_committed = maybe_committed


class OAuthError(XeroError):
    """The identity service refused a request for a reason other than invalid_grant
    (e.g. invalid_client: wrong client id/secret)."""

    def __init__(self, message: str = "", *, error: str = "", status: int | None = None):
        super().__init__(message or error or "OAuth error", status=status)
        self.error = error
