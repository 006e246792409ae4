"""The services' way in to a tenant's Accounting API, and what Xero's failures mean for the
connection's state.

`api_for(connection)` is the only way services reach the Accounting API. Its client spends
the shared rate budget (services.ratelimits) around every request, as Sentry's
`BaseApiClient` does with `finalize_request` / `track_response_data`:

- before: reserve a call slot for the tenant (pacing under Xero's 60-a-minute limit, at most
  5 at once, the day's 5,000, the app's 10,000 a minute, and any Retry-After in force — see
  XERO_FACTS.md "Rate limits"), waiting for it up to `max_wait` seconds; when no slot comes
  in time, `NoCallSlot(retry_at, reason)` is raised and nothing is sent;
- after: give the concurrency slot back, book Xero's X-*-Remaining headers (one SQL statement),
  and book a 429's Retry-After so every worker stops calling that tenant (or, for `appminute`,
  anyone) until then. A client made with `release_with_next_call=True` (a caller making calls
  one after another, like the export drain) hands the slot and the headers to its next
  reservation instead, so each call costs one statement; such a caller calls `close()` when done.

No caller touches ratelimits itself; callers only decide what a 429 or a missing slot means
for their own work (the export runner puts its items back and schedules a run).
"""
import logging
import time
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.utils import timezone

from ..models import ConnectionStatus, XeroConnection
from ..xero import errors, oauth
from ..xero.accounting import AccountingApi
from ..xero.http import Limits
from . import ratelimits, tokens
from .connection_problems import connection_mark_problem

log = logging.getLogger("xero.access")

# How long a call may wait for its slot in the shared budget, in seconds, by who is waiting.
INTERACTIVE_MAX_WAIT = 5.0   # someone pressed a button (Diagnose) and watches the page
BACKGROUND_MAX_WAIT = 30.0   # a worker reading lists: waiting is cheaper than failing the list
MIN_SLEEP_SECONDS = 0.01     # between two asks for a slot, so a busy budget is not asked in a tight loop
# A slot this many call spacings away (60 a minute: about 2 s) is always waited for, whatever
# max_wait says: otherwise a caller with a short max_wait could never queue behind another
# caller of the same tenant (a list refresh beside an export) and would only ever reschedule.
ALWAYS_WAIT_SPACINGS = 2


class NoCallSlot(Exception):
    """The shared budget has no call slot for this tenant within the wait allowed. Nothing
    was sent. `retry_at` (aware datetime) says when to come back; `reason` is one of
    rate_limited (a 429's Retry-After is in force), day, concurrent, pacing."""

    def __init__(self, retry_at: datetime | None, reason: str):
        super().__init__(f"no call slot before {retry_at} ({reason})")
        self.retry_at = retry_at
        self.reason = reason

    def as_rate_limited(self) -> errors.RateLimited:
        """The same situation in the seam's terms (for message_for): our share of Xero's
        limits is spent until `retry_at`."""
        seconds = (self.retry_at - timezone.now()).total_seconds() if self.retry_at else 0.0
        problem = {"pacing": "minute", "day": "day", "concurrent": "concurrent"}.get(self.reason, "")
        return errors.RateLimited(retry_after=max(seconds, 0.0), problem=problem)


def _reserve_slot(tenant_id: str, *, max_wait: float, deadline: float | None = None,
                  release: ratelimits.Reservation | None = None, limits: Limits | None = None,
                  ) -> ratelimits.Reservation:
    """Wait (sleeping) until the tenant's next call slot is due and return it; NoCallSlot when
    none comes within `max_wait` seconds (at least ALWAYS_WAIT_SPACINGS call spacings) or
    before `deadline` (a time.monotonic() value). `release` (a previous call's reservation)
    is given back and its `limits` booked by the first ask, whatever it answers."""
    max_wait = max(max_wait, ALWAYS_WAIT_SPACINGS * ratelimits.tenant_interval())
    give_up = deadline if deadline is not None else time.monotonic() + max_wait
    while True:
        reservation = ratelimits.reserve_call(tenant_id=tenant_id, max_wait=max_wait, release=release, limits=limits)
        release = limits = None
        wait = reservation.wait_seconds()
        if reservation.ok:
            if wait:
                time.sleep(wait)
            return reservation
        if wait > max_wait or time.monotonic() + wait > give_up:
            raise NoCallSlot(reservation.retry_at, reservation.reason)
        time.sleep(max(wait, MIN_SLEEP_SECONDS))


class BudgetedAccountingApi(AccountingApi):
    """An AccountingApi whose every request holds a slot of the shared budget (module doc)."""

    def __init__(self, *, tenant_id: str, token_provider, max_wait: float, deadline: float | None = None,
                 release_with_next_call: bool = False, connection_id: int | None = None):
        super().__init__(tenant_id=tenant_id, token_provider=token_provider)
        self.max_wait = max_wait
        self.deadline = deadline  # time.monotonic() after which no wait may end
        self.rate_limited_until: datetime | None = None  # set when Xero answered 429
        self._held: ratelimits.Reservation | None = None
        self.release_with_next_call = release_with_next_call
        self.connection_id = connection_id  # the XeroConnection whose tokens it uses (api_for); None at sign-in
        # A finished call whose slot (and headers) the next reservation gives back (and books).
        self._finished: tuple[ratelimits.Reservation, Limits | None] | None = None
        # The earliest moment this client's next call can start (one pacing interval after its
        # last booked one; other callers of the tenant may push it later). None before a call.
        self.next_slot_at: datetime | None = None

    def _reserve(self) -> ratelimits.Reservation:
        finished, self._finished = self._finished, None
        release, limits = finished if finished else (None, None)
        reservation = _reserve_slot(self.tenant_id, max_wait=self.max_wait, deadline=self.deadline, release=release,
                                    limits=limits)
        self.next_slot_at = reservation.start_at + timedelta(seconds=ratelimits.tenant_interval())
        return reservation

    def close(self) -> None:
        """Give back the slot of the last call (and book its headers) when the client was made
        with `release_with_next_call`; nothing otherwise. Safe to call twice. A process that
        dies first frees the slot when its lease runs out."""
        finished, self._finished = self._finished, None
        if finished:
            ratelimits.release_call(finished[0], limits=finished[1])

    @contextmanager
    def call_slot(self):
        """Reserve the slot of the next request now, so that what must happen before it (the
        export runner's attempt rows and Idempotency-Key) happens only once a slot is certain.
        Raises NoCallSlot as a request would. A slot not used by the end is handed back."""
        reservation = self._reserve()
        self._held = reservation
        try:
            yield
        finally:
            if self._held is reservation:
                self._held = None
                ratelimits.release_call(reservation, used=False)

    def finalize_request(self) -> ratelimits.Reservation:
        if self._held is not None:
            reservation, self._held = self._held, None
            return reservation
        return self._reserve()

    def track_response(self, ticket, *, limits: Limits | None, error: errors.XeroError | None) -> None:
        if self.release_with_next_call and not isinstance(error, errors.RateLimited):
            self._finished = (ticket, limits)
        else:
            ratelimits.release_call(ticket, limits=limits)
        if isinstance(error, errors.RateLimited):
            self.rate_limited_until = ratelimits.record_rate_limited(
                tenant_id=self.tenant_id, retry_after=error.retry_after, problem=error.problem)
            log.info("xero.api.rate_limited tenant=%s retry_after=%s problem=%s", self.tenant_id,
                     error.retry_after, error.problem)

    def retry_at(self, error: errors.RateLimited) -> datetime:
        """When a call may be made again after `error` (booked by track_response)."""
        return self.rate_limited_until or timezone.now() + timedelta(seconds=max(error.retry_after, 0))


def api_for(connection: XeroConnection, *, max_wait: float = BACKGROUND_MAX_WAIT,
            deadline: float | None = None, release_with_next_call: bool = False) -> BudgetedAccountingApi:
    """An Accounting API client for the connection's tenant: refresh-once-on-401 and the
    shared rate budget around every request. Each request waits up to `max_wait` seconds for
    its slot (and never past `deadline`, a time.monotonic() value) or raises NoCallSlot.
    With `release_with_next_call`, each call's slot is given back by the next reservation
    (one statement a call) and the caller must `close()` the client when done (module doc)."""
    connection_id = connection.pk

    def token_provider(stale_token):
        return tokens.access_token(connection_id, stale_token=stale_token)

    return BudgetedAccountingApi(tenant_id=connection.tenant_id, token_provider=token_provider, max_wait=max_wait,
                                 deadline=deadline, release_with_next_call=release_with_next_call,
                                 connection_id=connection_id)


def api_for_new_sign_in(*, tenant_id: str, access_token: str,
                        max_wait: float = INTERACTIVE_MAX_WAIT) -> BudgetedAccountingApi:
    """The same budgeted client for a sign-in not stored as a connection yet (the "Finish"
    step reads GET /Organisation with the token Xero has just issued). A 401 is not retried:
    that token cannot be refreshed yet, so errors.TokenExpired is raised."""
    def token_provider(stale_token):
        if stale_token:
            raise errors.TokenExpired("Xero refused the token it has just issued.")
        return access_token

    return BudgetedAccountingApi(tenant_id=tenant_id, token_provider=token_provider, max_wait=max_wait)


def granted_connections(connection: XeroConnection, *, max_wait: float = INTERACTIVE_MAX_WAIT,
                        access_token: str | None = None) -> list[dict]:
    """GET /connections (Xero's identity API: the tenants this app may reach with the
    connection's sign-in, developer.xero.com/documentation/guides/oauth2/auth-flow "Check the
    tenants you're authorized to access") as a list of dicts with tenantId, tenantType,
    tenantName, ... — the identity-API counterpart of `api_for`.

    Each request holds a slot of the connection tenant's shared budget, waiting up to
    `max_wait` seconds for it (NoCallSlot otherwise, nothing sent); a 429's Retry-After is
    booked. Uses `access_token` when the caller already holds one, else the stored token;
    a 401 refreshes the token once (tokens.access_token) and asks again with a new slot.
    Raises the seam's errors.XeroError subclasses (ReauthorisationRequired when the refresh
    is refused, RateLimited, XeroUnavailable, ...)."""
    token = access_token
    for attempt in range(2):  # first ask, then at most one ask after a refresh
        reservation = _reserve_slot(connection.tenant_id, max_wait=max_wait)
        used = False
        try:
            if token is None or attempt:
                token = tokens.access_token(connection.pk, stale_token=token if attempt else None)
            used = True
            return oauth.list_connections(access_token=token)
        except errors.TokenExpired:
            if attempt:
                raise
        except errors.RateLimited as exc:
            ratelimits.record_rate_limited(tenant_id=connection.tenant_id, retry_after=exc.retry_after,
                                           problem=exc.problem)
            raise
        finally:
            ratelimits.release_call(reservation, used=used)
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover


def tenant_still_listed(connection: XeroConnection) -> bool | None:
    """Is the tenant still in GET /connections? None when that cannot be told right now
    (Xero did not answer, or no budget slot came in time)."""
    try:
        listed = granted_connections(connection)
    except (errors.XeroError, NoCallSlot):
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
