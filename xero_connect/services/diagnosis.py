"""Self-diagnosis of an organisation's Xero connection.

`connection_health_check` runs the checks a support person would (is the sign-in still
refreshable, does Xero still list the organisation in this app's connections, were the
permissions granted, does the API answer, is there headroom under Xero's limits) and names
the ONE situation that applies with the ONE next step. It replaces the troubleshooting
sections of the help articles: session time-outs, greyed-out organisations, "integration
off", "not connected", "connected here but appears disconnected there". Its words are in
`xero_connect.messages` (the one module for words).

When a check proves a state it moves the state machine (removed in Xero, needs reconnect,
recovered), and every run leaves a ConnectionEvent with each check's result.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from .. import connection_states, roles
from .. import messages as words
from ..config import xero_config
from ..models import ConnectionEvent, ConnectionStatus, ExportRecord, ExportState, Organisation, XeroConnection
from ..roles import Action
from ..xero import errors
from . import tokens, xero_access
from .connection_problems import connection_mark_problem

log = logging.getLogger("xero.diagnosis")
S = ConnectionStatus

NON_API_SCOPES = {"openid", "profile", "email", "offline_access"}
# Apps created before granular scopes hold `accounting.transactions`, which covers these.
COVERED_BY_TRANSACTIONS = {"accounting.invoices", "accounting.payments", "accounting.manualjournals",
                           "accounting.banktransactions"}
MINUTE_HEADROOM = 5
DAY_HEADROOM = 100
NOT_ASKED = "Not asked: no call to Xero may be made for this organisation yet."  # no budget slot came in time


@dataclass
class Check:
    key: str
    label: str
    ok: bool | None  # None: could not be checked (an earlier check failed)
    detail: str = ""

    @property
    def mark(self) -> str:
        return {True: "✓", False: "✗", None: "–"}[self.ok]


@dataclass
class Diagnosis:
    situation: str
    title: str
    words: str
    next_step: str
    action: str  # none / connect / reconnect / ask_admin / wait / support
    severity: str  # ok / warn / bad
    checks: list[Check] = field(default_factory=list)
    retry_at: datetime | None = None
    checked_at: datetime = field(default_factory=timezone.now)
    admin_names: list[str] = field(default_factory=list)

    @property
    def working(self) -> bool:
        return self.situation == "working"

    def as_details(self) -> dict:
        return {"situation": self.situation, "title": self.title, "next_step": self.next_step,
                "checks": [{"key": c.key, "label": c.label, "ok": c.ok, "detail": c.detail} for c in self.checks]}


def required_scopes() -> set[str]:
    return {s for s in xero_config().scopes if s not in NON_API_SCOPES}


def missing_scopes(granted: set[str]) -> set[str]:
    missing = required_scopes() - granted
    if "accounting.transactions" in granted:
        missing -= COVERED_BY_TRANSACTIONS
    return missing


def _situation(key: str, *, connection: XeroConnection | None, is_admin: bool, admin_names: list[str],
               **kwargs) -> dict:
    tenant = (connection.tenant_name or connection.tenant_id) if connection else ""
    return words.situation(key, tenant=tenant, is_admin=is_admin, admin_names=admin_names, **kwargs)


def connection_health_check(*, organisation, actor=None) -> Diagnosis:
    """Run the checks, move the state machine when a check proves a state, record the run,
    and return the situation with its one next step (worded for `actor`; Admin wording when
    run by the scheduler)."""
    admin_names = roles.admin_names(organisation)
    is_admin = actor is None or roles.can(user=actor, organisation=organisation, action=Action.RECONNECT)
    connection = XeroConnection.objects.filter(organisation=organisation, is_current=True).first()
    checks: list[Check] = []
    if connection is None:
        waiting = ExportRecord.objects.filter(
            organisation=organisation,
            state__in=[ExportState.WAITING_FOR_CONNECTION, ExportState.QUEUED]).count()
        checks.append(Check("connected", "Connected to a Xero organisation", False, "No current connection."))
        diagnosis = Diagnosis("not_connected", checks=checks, admin_names=admin_names,
                              **_situation("not_connected", connection=None, is_admin=is_admin,
                                           admin_names=admin_names, waiting=waiting))
        _record(organisation, None, actor, diagnosis)
        return diagnosis

    found = _run_checks(connection, checks)
    situation = found.pop("situation")
    connection.refresh_from_db()
    _apply_state(connection, situation, actor=actor, checks=checks)
    diagnosis = Diagnosis(situation, checks=checks, admin_names=admin_names, retry_at=found.get("retry_at"),
                          **_situation(situation, connection=connection, is_admin=is_admin, admin_names=admin_names,
                                       **found))
    XeroConnection.objects.filter(pk=connection.pk).update(last_health_check_at=diagnosis.checked_at)
    _record(organisation, connection, actor, diagnosis)
    log.info("xero.health.checked organisation=%s connection=%s situation=%s", organisation.pk, connection.pk,
             situation)
    return diagnosis


def _run_checks(connection: XeroConnection, checks: list[Check]) -> dict:
    """Fill `checks`; return {"situation": …, plus retry_at / missing / detail}."""
    # 1. The sign-in: a usable access token (refreshed under the lease if due).
    label = "Sign-in to Xero still accepted (token refreshable)"
    if connection.status == S.NEEDS_RECONNECT:
        checks.append(Check("token", label, False, "Xero refused the sign-in earlier; it must be renewed."))
        _skip_rest(checks, from_key="token")
        return {"situation": "needs_reconnect"}
    try:
        token = tokens.access_token(connection.pk)
        connection.refresh_from_db()
        until = timezone.localtime(connection.access_token_expires_at).strftime("%H:%M") \
            if connection.access_token_expires_at else "?"
        checks.append(Check("token", label, True, f"Access token valid until {until}."))
    except errors.ReauthorisationRequired:
        checks.append(Check("token", label, False, "Xero answered invalid_grant: the sign-in expired or was revoked."))
        _skip_rest(checks, from_key="token")
        return {"situation": "needs_reconnect"}
    except errors.OAuthError as exc:
        checks.append(Check("token", label, False, f"Xero refused the app: {exc.error or exc}."))
        _skip_rest(checks, from_key="token")
        return {"situation": "app_refused", "detail": str(exc)}
    except errors.XeroError as exc:
        checks.append(Check("token", label, None, f"Could not reach Xero's sign-in service ({exc})."))
        _skip_rest(checks, from_key="token")
        return {"situation": "xero_down", "detail": ""}

    # 2. Still listed in GET /connections?
    label = "Organisation listed in Xero's Connected Apps for this app"
    listed = None
    try:
        granted = xero_access.granted_connections(connection, access_token=token,
                                                  max_wait=xero_access.INTERACTIVE_MAX_WAIT)
        listed = any(c.get("tenantId") == connection.tenant_id for c in granted)
        checks.append(Check("listed", label, listed,
                            "Listed." if listed else f"{connection.tenant_name or connection.tenant_id} is not in "
                                                     f"this app's connections any more."))
    except errors.ReauthorisationRequired:
        checks.append(Check("listed", label, None, words.SIGN_IN_REFUSED))
        _skip_rest(checks, from_key="listed")
        return {"situation": "needs_reconnect"}
    except xero_access.NoCallSlot:
        checks.append(Check("listed", label, None, NOT_ASKED))
    except errors.XeroError as exc:
        checks.append(Check("listed", label, None, f"Could not ask Xero ({exc.__class__.__name__})."))

    # 3. Scopes granted.
    label = "Permissions granted cover what this product needs"
    granted_scopes = connection.scope_set
    missing = missing_scopes(granted_scopes) if granted_scopes else set()
    if not granted_scopes:
        checks.append(Check("scopes", label, None, "Xero did not report the granted permissions."))
    else:
        checks.append(Check("scopes", label, not missing,
                            "All granted." if not missing else "Missing: " + ", ".join(sorted(missing))))

    # 4. The API answers for this tenant (GET /Organisation), and 5. limit headroom.
    # The call spends the shared budget like any other; when the budget has no slot (a 429's
    # Retry-After in force, the day spent, every slot busy) Xero is not asked at all.
    label = "Xero's Accounting API answering"
    api = xero_access.api_for(connection, max_wait=xero_access.INTERACTIVE_MAX_WAIT)
    api_error: errors.XeroError | None = None
    blocked = None
    paced = False
    try:
        api.organisation()
        checks.append(Check("api", label, True, "GET /Organisation answered."))
    except xero_access.NoCallSlot as slot:
        blocked, paced = slot.retry_at, slot.reason != "rate_limited"
        checks.append(Check("api", label, None, NOT_ASKED))
    except errors.XeroError as exc:
        api_error = exc
        checks.append(Check("api", label, False if not isinstance(exc, errors.XeroUnavailable) else None,
                            f"{exc.__class__.__name__}: {exc}"[:300]))
        if isinstance(exc, errors.RateLimited):
            blocked = api.retry_at(exc)
    label = "Headroom under Xero's call limits"
    limits = api.last_limits
    low = limits is not None and (
        (limits.minute_remaining is not None and limits.minute_remaining < MINUTE_HEADROOM)
        or (limits.day_remaining is not None and limits.day_remaining < DAY_HEADROOM))
    if blocked and paced:
        checks.append(Check("headroom", label, False,
                            f"This organisation's share of Xero's call limits is in use until "
                            f"{timezone.localtime(blocked):%H:%M:%S}."))
    elif blocked:
        checks.append(Check("headroom", label, False,
                            f"Xero asked us to wait until {timezone.localtime(blocked):%H:%M:%S}."))
    elif limits is None:
        checks.append(Check("headroom", label, None, "Xero reported no limits."))
    else:
        checks.append(Check("headroom", label, not low,
                            f"{limits.minute_remaining if limits.minute_remaining is not None else '?'} calls left "
                            f"this minute, {limits.day_remaining if limits.day_remaining is not None else '?'} today."))

    # The one situation, most fundamental first.
    if isinstance(api_error, errors.ReauthorisationRequired):
        return {"situation": "needs_reconnect"}
    if isinstance(api_error, errors.ConnectionRevoked) and listed is not True:
        return {"situation": "removed_in_xero"}
    if listed is False:
        return {"situation": "connected_here_not_there"}
    if missing or isinstance(api_error, errors.AccessDenied):
        return {"situation": "missing_scopes", "missing": missing,
                "detail": f"Xero answered: {api_error.detail or api_error}." if isinstance(
                    api_error, errors.AccessDenied) else ""}
    if blocked or isinstance(api_error, errors.RateLimited):
        return {"situation": "rate_limited", "retry_at": blocked}
    if api_error is not None or listed is None:
        return {"situation": "xero_down", "detail": ""}
    if low:
        return {"situation": "rate_limited", "retry_at": None}
    return {"situation": "working"}


def _skip_rest(checks: list[Check], *, from_key: str) -> None:
    order = [("listed", "Organisation listed in Xero's Connected Apps for this app"),
             ("scopes", "Permissions granted cover what this product needs"),
             ("api", "Xero's Accounting API answering"),
             ("headroom", "Headroom under Xero's call limits")]
    keys = [k for k, _ in order]
    start = keys.index(from_key) + 1 if from_key in keys else 0
    for key, label in order[start:]:
        checks.append(Check(key, label, None, "Not checked."))


def _apply_state(connection: XeroConnection, situation: str, *, actor, checks) -> None:
    details = {"checks": {c.key: c.ok for c in checks}}
    if situation == "removed_in_xero":
        connection_mark_problem(connection, status=S.REMOVED_IN_XERO, actor=actor, details=details,
                                reason="Health check: Xero refuses access and no longer lists the organisation in "
                                       "this app's connections.")
    elif situation == "connected_here_not_there":
        connection_mark_problem(connection, status=S.REMOVED_IN_XERO, actor=actor, details=details,
                                reason="Health check: the organisation is no longer listed in this app's connections "
                                       "in Xero.")
    elif situation == "working" and connection.status == S.REMOVED_IN_XERO:
        connection_states.mark_recovered(connection, actor=actor, details=details,
                                         reason="Health check: Xero lists the organisation again and answers.")


def _record(organisation, connection, actor, diagnosis: Diagnosis) -> None:
    outcome = "ok" if diagnosis.working else ("error" if diagnosis.action == "wait" else "problem")
    connection_states.record_check(
        organisation=organisation, connection=connection, actor=actor, kind=ConnectionEvent.Kind.CHECK,
        reason=f"Health check: {diagnosis.title}", outcome=outcome, details=diagnosis.as_details())


def connections_health_check_all() -> dict[str, int]:
    """The scheduled run: check every organisation with a current connection. Returns a
    count per situation."""
    counts: dict[str, int] = {}
    org_ids = XeroConnection.objects.filter(is_current=True).values_list("organisation_id", flat=True)
    for organisation in Organisation.objects.filter(pk__in=list(org_ids)):
        try:
            situation = connection_health_check(organisation=organisation).situation
        except Exception:  # noqa: BLE001 - one organisation's surprise must not stop the others
            log.exception("xero.health.failed organisation=%s", organisation.pk)
            situation = "error"
        counts[situation] = counts.get(situation, 0) + 1
    return counts
