"""Xero's call limits as one budget shared by all processes and machines (rows of RateBudget).

Two parts:
- booking what Xero reports (X-*-Remaining headers, a 429's Retry-After): `record_limits`,
  `record_rate_limited`, `blocked_until`;
- pacing our own calls so that Xero never has to say 429: `reserve_call` / `release_call`.

Pacing is a GCRA with a burst of one per tenant: calls start at least
(window + margin) / limit seconds apart. Evenly spaced calls keep *any* window of Xero's
length — sliding or fixed, wherever Xero's clock starts it — at or under the limit, which a
count per window of our own could not promise (our window and Xero's would not line up).
Concurrency is a list of leases with an expiry, so a process that dies mid-call frees its
slot when the lease runs out. The daily cap is a count per day window, also capped by what
Xero last reported as remaining. The per-app limit (10,000 a minute over all tenants) is
paced the same way at booking time.

A call costs one SQL statement: `reserve_call` is a single UPDATE … RETURNING over the
tenant's row and the app's row that decides and books in the database itself (PostgreSQL locks
both rows first in the same statement with FOR UPDATE, in scope order; SQLite runs every
write statement under its one write lock), so two workers on two machines can never book the
same slot and no process holds a lock while it thinks. The same statement gives the previous
call's concurrency lease back and books that call's X-*-Remaining headers (`release=`,
`limits=`), so a client making calls one after another (the export drain) spends one statement
per call; `release_call` does the release and the booking alone (one UPDATE) for the others.
The rare paths (a 429, a booked slot handed back unused) keep a row-locked transaction.

Window lengths and limits are settings (config/settings.py, env-driven) so benchmarks can time-scale them to the
sandbox's scaled minute: XERO_LIMIT_MINUTE_SECONDS, XERO_LIMIT_DAY_SECONDS,
XERO_LIMIT_TENANT_MINUTE, XERO_LIMIT_TENANT_CONCURRENT, XERO_LIMIT_TENANT_DAY,
XERO_LIMIT_APP_MINUTE, XERO_LIMIT_MARGIN.
"""
import json
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone as dt_timezone

from django.db import IntegrityError, connection as db_connection, transaction
from django.utils import timezone

from ..config import xero_config
from ..models import RateBudget
from ..xero.http import Limits

APP_SCOPE = "app"

def tenant_scope(tenant_id: str) -> str:
    return f"tenant:{tenant_id}"



# --- what Xero reports ---------------------------------------------------------------------

def record_rate_limited(*, tenant_id: str, retry_after: float, problem: str) -> datetime:
    """A 429: nobody calls this tenant (or, for appminute, anybody) before Retry-After."""
    until = timezone.now() + timedelta(seconds=max(retry_after, 0))
    scope = APP_SCOPE if problem == "appminute" else tenant_scope(tenant_id)
    _ensure_rows([scope])
    with transaction.atomic():
        budget = RateBudget.objects.select_for_update().get(scope=scope)
        if budget.blocked_until is None or budget.blocked_until < until:
            budget.blocked_until = until
        if budget.next_call_at is None or budget.next_call_at < until:
            budget.next_call_at = until
        budget.last_problem = problem or ""
        budget.save(update_fields=["blocked_until", "next_call_at", "last_problem", "updated_at"])
    return until


def blocked_until(*, tenant_id: str):
    now = timezone.now()
    rows = RateBudget.objects.filter(scope__in=[tenant_scope(tenant_id), APP_SCOPE], blocked_until__gt=now)
    return max((r.blocked_until for r in rows), default=None)


# --- pacing our own calls ------------------------------------------------------------------

@dataclass
class Reservation:
    """Either a booked slot (`ok`, start at `start_at`, holding lease `lease_id`) or, when not
    `ok`, the moment to come back (`retry_at`) and why (`reason`: rate_limited, day, concurrent,
    pacing)."""

    ok: bool
    tenant_id: str
    start_at: datetime | None = None
    lease_id: str = ""
    retry_at: datetime | None = None
    reason: str = ""

    def wait_seconds(self, now=None) -> float:
        moment = self.start_at if self.ok else self.retry_at
        if moment is None:
            return 0.0
        return max(0.0, (moment - (now or timezone.now())).total_seconds())


def tenant_interval() -> float:
    window = xero_config().limit_minute_seconds
    return window * (1 + xero_config().limit_margin) / max(xero_config().limit_tenant_minute, 1)


def app_interval() -> float:
    window = xero_config().limit_minute_seconds
    return window * (1 + xero_config().limit_margin) / max(xero_config().limit_app_minute, 1)


def _microseconds(seconds: float) -> int:
    """A spacing as whole microseconds: the database adds exactly this, and Python takes
    exactly this back off (start_at), so the two never drift apart by rounding."""
    return int(timedelta(seconds=seconds) / timedelta(microseconds=1))


def _ensure_rows(scopes) -> None:
    existing = set(RateBudget.objects.filter(scope__in=scopes).values_list("scope", flat=True))
    for scope in set(scopes) - existing:
        try:
            with transaction.atomic():
                RateBudget.objects.create(scope=scope)
        except IntegrityError:  # created by another process meanwhile
            pass


def _live(leases, now_epoch: float) -> list[dict]:
    return [lease for lease in (leases or []) if float(lease.get("until", 0)) > now_epoch]


# The few places where PostgreSQL and SQLite spell the same thing differently. Leases stay a
# JSON list [{"id", "until"}] (jsonb on PostgreSQL, JSON text on SQLite); datetimes are added
# to with whole microseconds (SQLite: Django's own django_format_dtdelta function, which every
# Django SQLite connection registers and which writes the format Django stores).
_DIALECTS = {
    "postgresql": {
        "lock": " FOR UPDATE",
        "greatest": "GREATEST",
        "plus_us": "({0} + {1} * INTERVAL '1 microsecond')",
        "live": ("COALESCE((SELECT jsonb_agg(l) FROM jsonb_array_elements({0}) AS l"
                 " WHERE (l->>'until')::float8 > %(now_epoch)s AND COALESCE(l->>'id', '') <> %(release_id)s),"
                 " '[]'::jsonb)"),
        "count": "jsonb_array_length({0})",
        "append": ("({0} || jsonb_build_array(jsonb_build_object('id', %(lease_id)s::text,"
                   " 'until', %(lease_until)s::float8)))"),
    },
    "sqlite": {
        "lock": "",
        "greatest": "MAX",
        "plus_us": "django_format_dtdelta('+', {0}, {1})",
        "live": ("(SELECT json_group_array(json(value)) FROM json_each({0})"
                 " WHERE CAST(json_extract(value, '$.until') AS REAL) > %(now_epoch)s"
                 " AND COALESCE(json_extract(value, '$.id'), '') <> %(release_id)s)"),
        "count": "json_array_length({0})",
        "append": "json_insert({0}, '$[#]', json_object('id', %(lease_id)s, 'until', %(lease_until)s))",
    },
}
_RETURNED = ("scope", "next_call_at", "blocked_until", "day_window_start", "day_count", "reported_day_remaining",
             "leases")


def _dialect() -> dict:
    return _DIALECTS[db_connection.vendor]


def _reserve_sql() -> str:
    """The one statement of `reserve_call`: read both rows (locked on PostgreSQL), decide
    (a 429 in force, the day's cap, leases in use, the pacing slot within the wait) and write
    both rows, returning what they hold now. Every name of the decision starts with d_ so it
    cannot be read as a column of the table."""
    d = _dialect()
    table = db_connection.ops.quote_name(RateBudget._meta.db_table)
    greatest, plus = d["greatest"], d["plus_us"]
    live = d["live"].format("leases")
    return f"""
WITH d_locked AS MATERIALIZED (
    SELECT scope, next_call_at, blocked_until, day_window_start, day_count, reported_day_remaining, leases
    FROM {table} WHERE scope IN (%(tenant)s, %(app)s) ORDER BY scope{d["lock"]}
), d_rows AS MATERIALIZED (
    SELECT
        (SELECT next_call_at FROM d_locked WHERE scope = %(tenant)s) AS d_t_next,
        (SELECT next_call_at FROM d_locked WHERE scope = %(app)s) AS d_a_next,
        (SELECT blocked_until FROM d_locked WHERE scope = %(tenant)s) AS d_t_blocked,
        (SELECT blocked_until FROM d_locked WHERE scope = %(app)s) AS d_a_blocked,
        (SELECT day_window_start FROM d_locked WHERE scope = %(tenant)s) AS d_day_start,
        (SELECT day_count FROM d_locked WHERE scope = %(tenant)s) AS d_count,
        (SELECT CASE WHEN %(book)s THEN %(book_day)s ELSE reported_day_remaining END
         FROM d_locked WHERE scope = %(tenant)s) AS d_rep_day,
        (SELECT {live} FROM d_locked WHERE scope = %(tenant)s) AS d_live
), d_window AS MATERIALIZED (
    SELECT d_rows.*,
        (d_day_start IS NULL OR d_day_start <= %(day_ago)s) AS d_day_reset,
        {greatest}(%(now)s, COALESCE(d_t_next, %(now)s)) AS d_t_start,
        {greatest}(%(now)s, COALESCE(d_a_next, %(now)s)) AS d_a_start
    FROM d_rows
), d_checks AS MATERIALIZED (
    SELECT d_window.*,
        CASE WHEN d_day_reset THEN 0 ELSE d_count END AS d_eff_count,
        CASE WHEN d_day_reset THEN NULL ELSE d_rep_day END AS d_eff_rep_day,
        (COALESCE(d_t_blocked > %(now)s, FALSE) OR COALESCE(d_a_blocked > %(now)s, FALSE)) AS d_blocked,
        ({d["count"].format("d_live")} >= %(concurrent)s) AS d_busy,
        (d_t_start > %(wait_limit)s OR d_a_start > %(wait_limit)s) AS d_paced
    FROM d_window
), d_verdict AS MATERIALIZED (
    SELECT d_checks.*,
        (NOT d_blocked AND (d_eff_count >= %(day_limit)s OR COALESCE(d_eff_rep_day <= 0, FALSE))) AS d_day_spent
    FROM d_checks
), d AS MATERIALIZED (
    SELECT d_verdict.*,
        COALESCE(NOT (d_blocked OR d_day_spent OR d_busy OR d_paced), FALSE) AS d_ok,
        {greatest}(d_t_start, d_a_start) AS d_start
    FROM d_verdict
)
UPDATE {table} SET
    leases = CASE WHEN scope = %(app)s THEN leases
                  WHEN d_ok THEN {d["append"].format("d_live")} ELSE d_live END,
    in_flight = CASE WHEN scope = %(app)s THEN in_flight
                     WHEN d_ok THEN {d["count"].format("d_live")} + 1 ELSE {d["count"].format("d_live")} END,
    next_call_at = CASE WHEN NOT d_ok THEN next_call_at
                        WHEN scope = %(app)s THEN {plus.format("d_a_start", "%(app_us)s")}
                        ELSE {plus.format("d_start", "%(tenant_us)s")} END,
    day_count = CASE WHEN scope = %(app)s THEN day_count WHEN d_ok THEN d_eff_count + 1
                     WHEN d_day_spent THEN d_eff_count ELSE day_count END,
    day_window_start = CASE WHEN scope = %(tenant)s AND (d_ok OR d_day_spent) AND d_day_reset THEN %(now)s
                            ELSE day_window_start END,
    reported_day_remaining = CASE WHEN scope = %(app)s THEN reported_day_remaining
                                  WHEN d_ok OR d_day_spent THEN d_eff_rep_day ELSE d_rep_day END,
    reported_minute_remaining = CASE WHEN scope = %(tenant)s AND %(book)s THEN %(book_minute)s
                                     ELSE reported_minute_remaining END,
    minute_count = CASE WHEN scope = %(tenant)s AND d_ok THEN
                            CASE WHEN minute_window_start IS NULL OR minute_window_start <= %(minute_ago)s THEN 1
                                 ELSE minute_count + 1 END
                        ELSE minute_count END,
    minute_window_start = CASE WHEN scope = %(tenant)s AND d_ok AND (minute_window_start IS NULL
                                    OR minute_window_start <= %(minute_ago)s) THEN %(now)s
                               ELSE minute_window_start END,
    updated_at = %(now)s
FROM d
WHERE scope IN (%(tenant)s, %(app)s)
RETURNING {", ".join(_RETURNED)}"""


def _release_sql() -> str:
    """The one statement of `release_call`: drop the lease (and any run out), book the
    call's X-*-Remaining headers."""
    d = _dialect()
    table = db_connection.ops.quote_name(RateBudget._meta.db_table)
    live = d["live"].format("leases")
    return f"""
UPDATE {table} SET
    leases = {live},
    in_flight = {d["count"].format(live)},
    reported_minute_remaining = CASE WHEN %(book)s THEN %(book_minute)s ELSE reported_minute_remaining END,
    reported_day_remaining = CASE WHEN %(book)s THEN %(book_day)s ELSE reported_day_remaining END,
    updated_at = %(now)s
WHERE scope = %(tenant)s"""


def _booking(limits: Limits | None) -> dict:
    """Parameters booking Xero's X-*-Remaining headers (nothing when it sent neither)."""
    book = limits is not None and (limits.minute_remaining is not None or limits.day_remaining is not None)
    return {"book": book, "book_minute": limits.minute_remaining if book else None,
            "book_day": limits.day_remaining if book else None}


def _aware(value) -> datetime | None:
    """A datetime read by raw SQL as an aware UTC datetime (SQLite hands back Django's text)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if timezone.is_aware(value) else value.replace(tzinfo=dt_timezone.utc)


def _returned_row(values) -> dict:
    row = dict(zip(_RETURNED, values))
    for name in ("next_call_at", "blocked_until", "day_window_start"):
        row[name] = _aware(row[name])
    if isinstance(row["leases"], (str, bytes)):
        row["leases"] = json.loads(row["leases"])
    return row


def reserve_call(*, tenant_id: str, max_wait: float = 10.0, release: "Reservation | None" = None,
                 limits: Limits | None = None) -> Reservation:
    """Book the next call for a tenant, starting no later than `max_wait` seconds from now.

    On success the caller waits until `start_at`, makes exactly one call, then calls
    `release_call` (or hands the reservation to its next `reserve_call` as `release`, with
    that call's `limits`). Otherwise nothing is booked and `retry_at` says when to come back;
    `release` is given back and `limits` booked either way. One SQL statement.
    """
    scope = tenant_scope(tenant_id)
    config = xero_config()
    lease_seconds = float(config.http_timeout) + config.limit_lease_slack + max_wait
    tenant_us = _microseconds(tenant_interval())
    release_id = release.lease_id if release is not None and release.ok else ""
    for _ in range(2):  # the second time only after creating missing rows
        now, now_epoch = timezone.now(), time.time()
        lease_id = uuid.uuid4().hex[:12]
        day = timedelta(seconds=config.limit_day_seconds)
        adapt = db_connection.ops.adapt_datetimefield_value
        params = {
            "tenant": scope, "app": APP_SCOPE, "now": adapt(now), "now_epoch": now_epoch,
            "day_ago": adapt(now - day),
            "minute_ago": adapt(now - timedelta(seconds=config.limit_minute_seconds)),
            "wait_limit": adapt(now + timedelta(seconds=max_wait)),
            "day_limit": config.limit_tenant_day, "concurrent": config.limit_tenant_concurrent,
            "tenant_us": tenant_us, "app_us": _microseconds(app_interval()),
            "lease_id": lease_id, "lease_until": now_epoch + lease_seconds, "release_id": release_id,
            **_booking(limits),
        }
        with db_connection.cursor() as cursor:
            cursor.execute(_reserve_sql(), params)
            rows = {row["scope"]: row for row in map(_returned_row, cursor.fetchall())}
        if len(rows) == 2:
            break
        _ensure_rows([scope, APP_SCOPE])
    tenant, app = rows[scope], rows[APP_SCOPE]
    if any(lease.get("id") == lease_id for lease in tenant["leases"]):
        return Reservation(True, tenant_id, lease_id=lease_id,
                           start_at=tenant["next_call_at"] - timedelta(microseconds=tenant_us))
    # Not booked: say why, reading the rows as the statement left them (the same tests, in the
    # same order, at the same `now`).
    blocked = max((b for b in (tenant["blocked_until"], app["blocked_until"]) if b and b > now), default=None)
    if blocked:
        return Reservation(False, tenant_id, retry_at=blocked, reason="rate_limited")
    window = tenant["day_window_start"]
    if window is not None and window > now - day and (
            tenant["day_count"] >= config.limit_tenant_day
            or (tenant["reported_day_remaining"] is not None and tenant["reported_day_remaining"] <= 0)):
        return Reservation(False, tenant_id, retry_at=window + day, reason="day")
    if len(_live(tenant["leases"], now_epoch)) >= config.limit_tenant_concurrent:
        return Reservation(False, tenant_id, reason="concurrent",
                           retry_at=now + timedelta(seconds=config.limit_poll_seconds))
    return Reservation(False, tenant_id, reason="pacing",
                       retry_at=max(now, tenant["next_call_at"] or now, app["next_call_at"] or now))


def release_call(reservation: Reservation, *, used: bool = True, limits: Limits | None = None) -> None:
    """Give the concurrency slot back and book the call's X-*-Remaining headers (`limits`):
    one UPDATE. `used=False` when the booked call was never made: the pacing slot is handed
    back too if nobody booked after it (a row-locked transaction: rare)."""
    if not reservation.ok or not reservation.lease_id:
        return
    if used:
        with db_connection.cursor() as cursor:
            cursor.execute(_release_sql(), {
                "tenant": tenant_scope(reservation.tenant_id), "now": db_connection.ops.adapt_datetimefield_value(
                    timezone.now()), "now_epoch": time.time(), "release_id": reservation.lease_id,
                **_booking(limits)})
        return
    with transaction.atomic():
        budget = RateBudget.objects.select_for_update().filter(scope=tenant_scope(reservation.tenant_id)).first()
        if budget is None:
            return
        budget.leases = [lease for lease in _live(budget.leases, time.time())
                         if lease.get("id") != reservation.lease_id]
        budget.in_flight = len(budget.leases)
        expected_next = reservation.start_at + timedelta(microseconds=_microseconds(tenant_interval()))
        if budget.next_call_at and abs((budget.next_call_at - expected_next).total_seconds()) < 1e-3:
            budget.next_call_at = reservation.start_at
            budget.day_count = max(0, budget.day_count - 1)
        budget.save(update_fields=["leases", "in_flight", "next_call_at", "day_count", "updated_at"])


def budget_snapshot(*, tenant_id: str) -> dict:
    """What the budget looks like now, for pages and benchmarks."""
    budget = RateBudget.objects.filter(scope=tenant_scope(tenant_id)).first()
    if budget is None:
        return {"in_flight": 0, "day_count": 0, "blocked_until": None}
    return {"in_flight": len(_live(budget.leases, time.time())), "day_count": budget.day_count,
            "blocked_until": budget.blocked_until, "next_call_at": budget.next_call_at,
            "reported_day_remaining": budget.reported_day_remaining}
