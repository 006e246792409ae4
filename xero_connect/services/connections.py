"""The connection lifecycle: connect, choose the Xero organisation, confirm, reconnect,
disconnect, keep refresh tokens alive, and tell the admins when a connection breaks.

The OAuth dance is a small pipeline:

    oauth_start     state + PKCE verifier in the session, keyed by state (several sign-ins
                    in one session do not clobber each other), bound to the organisation, the
                    user, an expiry and — for a reconnect — the connection it replaces.
    oauth_callback  tells apart "cancelled", "timed out / unknown state", "someone else's
                    sign-in", "no code", "code already used" and Xero's own errors; exchanges
                    the code and reads GET /connections?authEventId=… into a
                    PendingAuthorisation (tokens encrypted, short-lived).
    pending_choose  the admin picks one of the granted Xero organisations ("Next").
    connection_complete  "Finish": idempotent; creates the new XeroConnection, replaces the
                    old one, then clears the old authorisation in Xero and the extra
                    connections the consent created, so the app holds exactly ONE connection
                    per organisation in Xero (no greyed-out leftovers in Connected Apps).

Network calls are never made inside a database transaction: on SQLite a write transaction
locks the whole database, and the sandbox answering those calls shares it.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django_q.tasks import async_task

from .. import connection_states, crypto, roles
from ..models import (ConnectionEvent, ConnectionStatus, ExportRecord, ExportState, Organisation,
                      PendingAuthorisation, XeroConnection)
from ..roles import Action
from ..xero import errors, oauth
from ..xero.accounting import AccountingApi

log = logging.getLogger("xero.connections")

SESSION_KEY = "xero_oauth_states"
MAX_PENDING_SIGN_INS = 10
PENDING_TTL = timedelta(minutes=30)
S = ConnectionStatus


# --- failures the pages turn into words ------------------------------------------------


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
        super().__init__("cancelled", "You cancelled the sign-in to Xero.", organisation=organisation)


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

    def __init__(self, *, organisation, consequence: "SwitchConsequence"):
        super().__init__("switch_confirmation", "Switching the Xero organisation needs your explicit confirmation.",
                         organisation=organisation)
        self.consequence = consequence


# --- start ------------------------------------------------------------------------------


def _sign_ins(session) -> dict:
    entries = session.get(SESSION_KEY)
    return entries if isinstance(entries, dict) else {}


def _prune(entries: dict, now: float) -> dict:
    live = {k: v for k, v in entries.items() if isinstance(v, dict) and v.get("exp", 0) > now}
    if len(live) > MAX_PENDING_SIGN_INS:
        newest = sorted(live.items(), key=lambda kv: kv[1].get("exp", 0))[-MAX_PENDING_SIGN_INS:]
        live = dict(newest)
    return live


def oauth_start(*, organisation: Organisation, actor, session, reconnect: bool = False) -> str:
    """Begin a sign-in to Xero; returns the URL of Xero's consent page."""
    roles.require(user=actor, organisation=organisation, action=Action.RECONNECT if reconnect else Action.CONNECT)
    current = XeroConnection.objects.filter(organisation=organisation, is_current=True).first()
    state = oauth.new_state()
    verifier = oauth.new_code_verifier()
    now = time.time()
    entries = _prune(_sign_ins(session), now)
    entries[state] = {
        "org": organisation.pk, "user": actor.pk, "verifier": verifier,
        "exp": now + settings.XERO_OAUTH_STATE_TTL,
        "replaces": current.pk if current else None, "reconnect": bool(reconnect),
    }
    session[SESSION_KEY] = entries
    session.modified = True
    connection_states.record_check(
        organisation=organisation, connection=current, actor=actor, kind=ConnectionEvent.Kind.OAUTH,
        reason="Reconnect started: signing in to Xero" if reconnect else "Connect started: signing in to Xero",
        outcome="started")
    log.info("xero.oauth.start organisation=%s user=%s reconnect=%s", organisation.pk, actor.pk, reconnect)
    return oauth.authorization_url(state=state, code_verifier=verifier)


# --- callback ----------------------------------------------------------------------------


def _auth_event_id(tokens: oauth.TokenSet) -> str:
    claims = oauth.decode_id_token(tokens.access_token)
    return str(claims.get("authentication_event_id") or "")


def oauth_callback(*, session, user, params) -> PendingAuthorisation:
    """Xero sent the browser back. Returns the PendingAuthorisation to choose/confirm from,
    or raises a ConnectionFlowError subclass (or roles.AdminRequired)."""
    state = str(params.get("state") or "")
    entries = _sign_ins(session)
    entry = entries.pop(state, None) if state else None  # single use, whatever happens next
    session[SESSION_KEY] = _prune(entries, time.time())
    session.modified = True

    organisation = None
    if entry:
        organisation = Organisation.objects.filter(pk=entry.get("org")).first()

    if params.get("error") == "access_denied":
        if organisation:
            connection_states.record_check(
                organisation=organisation, actor=user, kind=ConnectionEvent.Kind.OAUTH,
                connection=XeroConnection.objects.filter(organisation=organisation, is_current=True).first(),
                reason="Sign-in to Xero cancelled", outcome="cancelled")
        raise SignInCancelled(organisation=organisation if entry and entry.get("user") == user.pk else None)
    if entry is None or organisation is None:
        log.info("xero.oauth.callback.unknown_state user=%s", user.pk)
        raise SignInTimedOut(detail="unknown state")
    if entry.get("user") != user.pk:
        log.warning("xero.oauth.callback.other_user user=%s organisation=%s", user.pk, organisation.pk)
        raise SignInRefused()
    if entry.get("exp", 0) <= time.time():
        raise SignInTimedOut(organisation=organisation, detail="expired state")
    roles.require(user=user, organisation=organisation,
                  action=Action.RECONNECT if entry.get("reconnect") else Action.CONNECT)
    if params.get("error"):
        raise ConnectionFlowError(
            "xero_error", "Xero did not complete the sign-in.", organisation=organisation,
            detail=str(params.get("error_description") or params.get("error")))
    code = str(params.get("code") or "")
    if not code:
        raise ConnectionFlowError("missing_code", "Xero did not send back a sign-in code.", organisation=organisation)

    try:
        tokens = oauth.exchange_code(code=code, code_verifier=entry["verifier"])
    except errors.ReauthorisationRequired as exc:
        raise ConnectionFlowError("code_rejected", "This sign-in link was already used or has expired.",
                                  organisation=organisation) from exc
    except errors.XeroError as exc:
        raise ConnectionFlowError("xero_error", "Xero refused the sign-in.", organisation=organisation,
                                  detail=str(exc), error=exc) from exc

    auth_event_id = _auth_event_id(tokens)
    try:
        granted = oauth.list_connections(access_token=tokens.access_token, auth_event_id=auth_event_id or None)
    except errors.XeroError as exc:
        raise ConnectionFlowError("xero_error", "Xero did not tell us which organisations you allowed.",
                                  organisation=organisation, detail=str(exc), error=exc) from exc
    tenants = [
        {"id": str(c.get("id", "")), "tenantId": str(c.get("tenantId", "")), "tenantName": c.get("tenantName") or "",
         "authEventId": str(c.get("authEventId") or auth_event_id)}
        for c in granted if c.get("tenantId") and (c.get("tenantType") or "ORGANISATION") == "ORGANISATION"
    ]
    if not tenants:
        raise ConnectionFlowError("no_organisation", "You didn't allow access to any Xero organisation.",
                                  organisation=organisation)
    now = timezone.now()
    pending = PendingAuthorisation.objects.create(
        organisation=organisation, user=user,
        replaces=XeroConnection.objects.filter(pk=entry.get("replaces")).first() if entry.get("replaces") else None,
        auth_event_id=auth_event_id or tenants[0]["authEventId"], tenants=tenants, scopes=" ".join(tokens.scopes),
        xero_user_name=tokens.xero_user_name, xero_user_email=tokens.xero_user_email,
        access_token_encrypted=crypto.encrypt(tokens.access_token),
        refresh_token_encrypted=crypto.encrypt(tokens.refresh_token or ""),
        access_token_expires_at=tokens.expires_at,
        chosen_tenant_id=tenants[0]["tenantId"] if len(tenants) == 1 else "",
        expires_at=min(now + PENDING_TTL, tokens.expires_at),
    )
    connection_states.record_check(
        organisation=organisation, actor=user, kind=ConnectionEvent.Kind.OAUTH,
        connection=XeroConnection.objects.filter(organisation=organisation, is_current=True).first(),
        reason=f"Signed in to Xero as {tokens.xero_user_email or tokens.xero_user_name or 'a Xero user'}; "
               f"{len(tenants)} Xero organisation{'s' if len(tenants) != 1 else ''} allowed",
        outcome="ok", details={"tenants": [t["tenantName"] for t in tenants]})
    log.info("xero.oauth.callback.ok organisation=%s pending=%s tenants=%s", organisation.pk, pending.pk, len(tenants))
    return pending


# --- choose and confirm ----------------------------------------------------------------


def pending_for(*, organisation, user, pending_id) -> PendingAuthorisation | None:
    """The pending sign-in of this user in this organisation (None elsewhere: the page 404s)."""
    return PendingAuthorisation.objects.filter(pk=pending_id, organisation=organisation, user=user).first()


def pending_is_open(pending: PendingAuthorisation) -> bool:
    return pending.completed_at is None and pending.expires_at > timezone.now()


def pending_tenant(pending: PendingAuthorisation, tenant_id: str) -> dict | None:
    return next((t for t in pending.tenants if t.get("tenantId") == tenant_id), None)


def pending_choose(*, pending: PendingAuthorisation, actor, tenant_id: str) -> PendingAuthorisation:
    _check_pending(pending, actor)
    if pending_tenant(pending, tenant_id) is None:
        raise ConnectionFlowError("unknown_tenant", "Choose one of the Xero organisations you allowed.",
                                  organisation=pending.organisation)
    pending.chosen_tenant_id = tenant_id
    pending.save(update_fields=["chosen_tenant_id"])
    return pending


def _check_pending(pending: PendingAuthorisation, actor) -> None:
    if pending.user_id != actor.pk:
        raise SignInRefused(organisation=pending.organisation)
    roles.require(user=actor, organisation=pending.organisation,
                  action=Action.RECONNECT if pending.replaces_id else Action.CONNECT)
    if pending.completed_at is None and pending.expires_at <= timezone.now():
        raise SignInTimedOut(organisation=pending.organisation, detail="pending expired")


@dataclass(frozen=True)
class SwitchConsequence:
    old_tenant_id: str
    old_tenant_name: str
    new_tenant_name: str
    exported_count: int


def connection_switch_consequence(*, organisation, tenant_id: str, tenant_name: str = "") -> SwitchConsequence | None:
    """What linking `tenant_id` would leave behind: documents exported to the Xero organisation
    this organisation was linked to before. None when nothing would be left behind."""
    previous = (XeroConnection.objects.filter(organisation=organisation)
                .order_by("-is_current", "-connected_at", "-pk").first())
    if previous is None or previous.tenant_id == tenant_id:
        return None
    exported = ExportRecord.objects.filter(organisation=organisation, state=ExportState.EXPORTED,
                                           tenant_id=previous.tenant_id).count()
    if not exported:
        return None
    return SwitchConsequence(previous.tenant_id, previous.tenant_name or previous.tenant_id, tenant_name, exported)


def _wait_for_completed(pending: PendingAuthorisation) -> XeroConnection:
    """A second "Finish" while the first is still running: wait (bounded) for its result."""
    deadline = time.monotonic() + settings.XERO_HTTP_TIMEOUT * 2
    while True:
        pending.refresh_from_db()
        connection = (XeroConnection.objects.filter(organisation=pending.organisation,
                                                    auth_event_id=pending.auth_event_id,
                                                    tenant_id=pending.chosen_tenant_id)
                      .order_by("-pk").first())
        if connection is not None:
            return connection
        if pending.completed_at is not None and not pending.refresh_token_encrypted:
            raise FinishedElsewhere(organisation=pending.organisation)
        if pending.completed_at is None:
            # The first attempt failed and released its claim.
            raise ConnectionFlowError("retry", "The first attempt to finish did not complete; press Finish again.",
                                      organisation=pending.organisation)
        if time.monotonic() > deadline:
            raise ConnectionFlowError("retry", "Finishing is taking longer than expected; reload in a moment.",
                                      organisation=pending.organisation)
        time.sleep(0.1)


def connection_complete(*, pending: PendingAuthorisation, actor, tenant_id: str,
                        confirm_switch: bool = False) -> XeroConnection:
    """"Finish": link the chosen Xero organisation. Idempotent: a second call for the same
    pending sign-in returns the connection the first one made."""
    pending.refresh_from_db()
    organisation = pending.organisation
    if pending.completed_at is not None:
        if pending.user_id != actor.pk:
            raise SignInRefused(organisation=organisation)
        return _wait_for_completed(pending)
    _check_pending(pending, actor)
    tenant = pending_tenant(pending, tenant_id)
    if tenant is None:
        raise ConnectionFlowError("unknown_tenant", "Choose one of the Xero organisations you allowed.",
                                  organisation=organisation)
    consequence = connection_switch_consequence(organisation=organisation, tenant_id=tenant_id,
                                                tenant_name=tenant["tenantName"])
    if consequence is not None:
        roles.require(user=actor, organisation=organisation, action=Action.SWITCH_TENANT)
        if not confirm_switch:
            raise SwitchConfirmationRequired(organisation=organisation, consequence=consequence)

    # Claim the pending sign-in: of two simultaneous "Finish" presses exactly one goes on.
    now = timezone.now()
    current_before = (XeroConnection.objects.filter(organisation=organisation, is_current=True)
                      .values_list("pk", flat=True).first())
    claimed = PendingAuthorisation.objects.filter(pk=pending.pk, completed_at__isnull=True).update(
        completed_at=now, chosen_tenant_id=tenant_id)
    if not claimed:
        return _wait_for_completed(pending)
    pending.chosen_tenant_id = tenant_id

    access_token = pending.get_access_token()
    try:
        details = _organisation_details(tenant_id=tenant_id, access_token=access_token)
    except errors.XeroError:
        PendingAuthorisation.objects.filter(pk=pending.pk).update(completed_at=None)
        raise

    try:
        connection, old = _link(pending=pending, actor=actor, tenant=tenant, details=details,
                                          consequence=consequence, current_before=current_before, now=now)
    except (_LostRace, IntegrityError) as exc:
        if isinstance(exc, IntegrityError) and not XeroConnection.objects.filter(
                organisation=organisation, is_current=True).exclude(pk=current_before).exists():
            raise
        _discard_pending(pending)
        raise FinishedElsewhere(organisation=organisation) from None
    log.info("xero.connection.established organisation=%s connection=%s tenant=%s", organisation.pk, connection.pk,
             tenant["tenantId"])

    cleanup = _clear_old_authorisations(connection=connection, old=old, pending=pending)
    if cleanup:
        connection_states.record_check(
            organisation=organisation, connection=connection, actor=actor, kind=ConnectionEvent.Kind.NOTE,
            reason="Cleared old entries in Xero's Connected Apps", outcome="ok", details=cleanup)
    _after_connect(organisation=organisation, actor=actor)
    return connection


class _LostRace(Exception):
    """Another "Finish" linked the organisation while this one was on its way."""


def _discard_pending(pending: PendingAuthorisation) -> None:
    """The loser of two "Finish" presses: its authorisation is revoked in Xero (best effort;
    a failure is logged, never shown as the outcome) and its tokens are wiped here."""
    refresh_token = pending.get_refresh_token() if pending.refresh_token_encrypted else ""
    outcome = _outcome_of(lambda: oauth.revoke(refresh_token=refresh_token)) if refresh_token else "no token"
    PendingAuthorisation.objects.filter(pk=pending.pk).update(access_token_encrypted="", refresh_token_encrypted="")
    log.info("xero.connection.finish_lost organisation=%s pending=%s revoke=%s", pending.organisation_id, pending.pk,
             outcome)


def _link(*, pending, actor, tenant, details, consequence, current_before, now):
    """The database half of Finish, in one transaction. Raises _LostRace when another current
    connection appeared since the one seen before the call to Xero (another Finish won); on
    PostgreSQL the same race can surface as the one-current-connection IntegrityError."""
    organisation = pending.organisation
    tenant_id = tenant["tenantId"]
    with transaction.atomic():
        old = (XeroConnection.objects.select_for_update()
               .filter(organisation=organisation, is_current=True).first())
        if old is not None and old.pk != current_before:
            raise _LostRace()  # (a connection that went away meanwhile is simply replaced: nothing raced)
        if old is not None:
            connection_states.replace(
                old, actor=actor,
                reason=f"Replaced by a reconnect to {tenant['tenantName'] or tenant_id}",
                details={"new_tenant_id": tenant_id})
        connection = XeroConnection(
            organisation=organisation, tenant_id=tenant_id, tenant_name=details.get("Name") or tenant["tenantName"],
            xero_connection_id=tenant["id"], auth_event_id=pending.auth_event_id,
            short_code=details.get("ShortCode") or "", xero_base_currency=details.get("BaseCurrency") or "",
            scopes=pending.scopes, xero_user_name=pending.xero_user_name, xero_user_email=pending.xero_user_email,
            connected_by=actor, connected_at=now,
        )
        connection.access_token_encrypted = pending.access_token_encrypted
        connection.refresh_token_encrypted = pending.refresh_token_encrypted
        connection.access_token_expires_at = pending.access_token_expires_at
        connection.refresh_token_issued_at = pending.created_at
        connection.last_refreshed_at = pending.created_at
        switched = consequence is not None
        connection_states.establish(
            connection, actor=actor,
            reason=(f"Reconnected to Xero ({connection.tenant_name})" if old is not None
                    else f"Connected to Xero ({connection.tenant_name})"),
        )
        if switched:
            connection_states.record_check(
                organisation=organisation, connection=connection, actor=actor, kind=ConnectionEvent.Kind.NOTE,
                reason=(f"Switched Xero organisation from {consequence.old_tenant_name} to {connection.tenant_name}; "
                        f"{consequence.exported_count} documents stay exported in {consequence.old_tenant_name}"),
                outcome="ok", details={"old_tenant_id": consequence.old_tenant_id})
        _adopt_shared_connections(pending=pending, organisation=organisation)
        # The tokens now live on the connection only.
        PendingAuthorisation.objects.filter(pk=pending.pk).update(access_token_encrypted="",
                                                                    refresh_token_encrypted="")
    return connection, old


def _organisation_details(*, tenant_id: str, access_token: str) -> dict:
    def token_provider(stale):
        if stale:
            raise errors.TokenExpired("Xero refused the token it has just issued.")
        return access_token

    return AccountingApi(tenant_id=tenant_id, token_provider=token_provider).organisation()


def pending_currency_mismatch(*, pending, tenant_id: str, organisation) -> dict | None:
    """Before Finish: does the chosen Xero organisation keep its books in another currency than
    this organisation? Picking the wrong one of several Xero organisations is the easiest mistake
    in the sign-in, and Xero would refuse most exports (other tax codes and accounts) afterwards.
    Best effort: None when it matches or cannot be told right now."""
    if not tenant_id or pending.completed_at is not None:
        return None
    try:
        details = _organisation_details(tenant_id=tenant_id, access_token=pending.get_access_token())
    except errors.XeroError:
        return None
    xero_currency = (details.get("BaseCurrency") or "").upper()
    if xero_currency and organisation.base_currency and xero_currency != organisation.base_currency.upper():
        return {"xero_currency": xero_currency, "our_currency": organisation.base_currency.upper()}
    return None


def _adopt_shared_connections(*, pending, organisation) -> None:
    """A consent can include a Xero organisation another of our organisations is linked to
    (a bookkeeper reaching several clients with one Xero login). Xero then moves that
    connection to the new authorisation; record it so that revoking either authorisation
    later is known to be unsafe (see _revoke_is_safe)."""
    shared_tenants = {t["tenantId"] for t in pending.tenants if t["tenantId"] != pending.chosen_tenant_id}
    if shared_tenants:
        XeroConnection.objects.filter(is_current=True, tenant_id__in=shared_tenants,
                                      xero_user_email=pending.xero_user_email).exclude(
            organisation=organisation).update(auth_event_id=pending.auth_event_id)


def _in_use_elsewhere(*, tenant_id: str = "", connection_id: str = "", exclude_pk=None) -> bool:
    qs = XeroConnection.objects.filter(is_current=True).exclude(pk=exclude_pk)
    if tenant_id and qs.filter(tenant_id=tenant_id).exists():
        return True
    return bool(connection_id) and qs.filter(xero_connection_id=connection_id).exists()


def _revoke_is_safe(connection: XeroConnection) -> bool:
    """Revoking a refresh token removes every connection of its authorisation in Xero; not
    when another current connection of ours shares that authorisation."""
    if not connection.auth_event_id:
        return True
    return not XeroConnection.objects.filter(is_current=True, auth_event_id=connection.auth_event_id).exclude(
        pk=connection.pk).exists()


def _outcome_of(fn) -> str:
    try:
        fn()
    except errors.NotFound:
        return "already gone"
    except errors.ReauthorisationRequired:
        return "already gone"
    except (errors.ConnectionRevoked, errors.AccessDenied, errors.TokenExpired):
        return "not allowed (already removed or made by another Xero user)"
    except errors.XeroError as exc:
        return f"failed: {exc.__class__.__name__}"
    return "done"


def _clear_old_authorisations(*, connection: XeroConnection, old: XeroConnection | None, pending) -> dict:
    """Best effort, after the new connection is stored: revoke the old refresh token, delete
    the old connection id (unless Xero reused it for the new one), and delete the
    connections this consent made for Xero organisations the admin did not pick. Returns
    what happened, for the event log."""
    report: dict = {}
    new_token = connection.get_access_token()
    if old is not None:
        if old.has_tokens and _revoke_is_safe(old) and old.auth_event_id != connection.auth_event_id:
            refresh_token = old.get_refresh_token()
            report["old_authorisation_revoked"] = _outcome_of(lambda: oauth.revoke(refresh_token=refresh_token))
        if (old.xero_connection_id and old.xero_connection_id != connection.xero_connection_id
                and not _in_use_elsewhere(connection_id=old.xero_connection_id, exclude_pk=connection.pk)):
            report["old_connection_deleted"] = _outcome_of(
                lambda: oauth.delete_connection(access_token=new_token, connection_id=old.xero_connection_id))
        old.clear_tokens()
        old.save(update_fields=["access_token_encrypted", "refresh_token_encrypted",
                                "previous_refresh_token_encrypted", "access_token_expires_at"])
    extras = []
    for tenant in pending.tenants:
        if tenant["tenantId"] == connection.tenant_id or not tenant.get("id"):
            continue
        if _in_use_elsewhere(tenant_id=tenant["tenantId"], connection_id=tenant["id"], exclude_pk=connection.pk):
            extras.append({"tenant": tenant["tenantName"], "outcome": "kept: linked to another organisation here"})
            continue
        extras.append({"tenant": tenant["tenantName"], "outcome": _outcome_of(
            lambda t=tenant: oauth.delete_connection(access_token=new_token, connection_id=t["id"]))})
    if extras:
        report["unpicked_connections_deleted"] = extras
    log.info("xero.connection.cleanup connection=%s report=%s", connection.pk, report)
    return report


def _after_connect(*, organisation, actor) -> None:
    """The two imports of every (re)connect, and the export queue's waiting items."""
    from . import exports, lists

    # The connection is already stored: a failure here must not turn "Finish" into an error
    # page, but it must be visible in the history.
    for what, step in (("queue the currency and account code imports", lists.lists_import_on_connect),
                       ("release the exports waiting for the connection", exports.exports_release_waiting)):
        try:
            step(organisation=organisation, actor=actor)
        except Exception as exc:  # noqa: BLE001
            log.exception("xero.connection.after_connect.failed organisation=%s step=%s", organisation.pk, what)
            connection_states.record_check(
                organisation=organisation, actor=actor, kind=ConnectionEvent.Kind.NOTE,
                connection=XeroConnection.objects.filter(organisation=organisation, is_current=True).first(),
                reason=f"Could not {what}: {exc.__class__.__name__}", outcome="problem")


def pending_discard(*, pending: PendingAuthorisation, actor) -> None:
    """"Cancel" on the choose/confirm pages: forget the tokens and remove the connections this
    consent made in Xero, unless one of our organisations uses them."""
    if pending.user_id != actor.pk:
        raise SignInRefused(organisation=pending.organisation)
    if pending.completed_at is not None:
        return
    if not PendingAuthorisation.objects.filter(pk=pending.pk, completed_at__isnull=True).update(
            completed_at=timezone.now()):
        return
    token = pending.get_access_token() if pending.access_token_encrypted else ""
    if token and pending.expires_at > timezone.now():
        for tenant in pending.tenants:
            if tenant.get("id") and not _in_use_elsewhere(tenant_id=tenant["tenantId"], connection_id=tenant["id"]):
                _outcome_of(lambda t=tenant: oauth.delete_connection(access_token=token, connection_id=t["id"]))
    PendingAuthorisation.objects.filter(pk=pending.pk).update(access_token_encrypted="", refresh_token_encrypted="")
    connection_states.record_check(
        organisation=pending.organisation, actor=actor, kind=ConnectionEvent.Kind.OAUTH,
        connection=XeroConnection.objects.filter(organisation=pending.organisation, is_current=True).first(),
        reason="Sign-in to Xero cancelled before choosing the organisation", outcome="cancelled")


# --- disconnect ---------------------------------------------------------------------------


def connection_disconnect(*, organisation, actor, as_staff: bool = False) -> XeroConnection | None:
    """Disconnect (an Admin of the organisation, or platform staff from the Django admin with
    as_staff=True): remove the connection at Xero (best effort, recorded), keep the history and
    the export ledger. Returns the ended connection (None if there was none)."""
    roles.require(user=actor, organisation=organisation, action=Action.DISCONNECT, as_staff=as_staff)
    connection = XeroConnection.objects.filter(organisation=organisation, is_current=True).first()
    if connection is None:
        return None
    report: dict = {}
    refresh_token = connection.get_refresh_token() if connection.has_tokens else ""
    if refresh_token and connection.status != S.NEEDS_RECONNECT and connection.xero_connection_id and not \
            _in_use_elsewhere(connection_id=connection.xero_connection_id, exclude_pk=connection.pk):
        # Tokens are fetched directly (not through services.tokens): a refresh failing here
        # must not flag the connection as "needs reconnect" and email the admins.
        def delete():
            nonlocal refresh_token
            expires = connection.access_token_expires_at
            if expires and expires > timezone.now() + timedelta(seconds=30):
                token = connection.get_access_token()
            else:
                fresh = oauth.refresh(refresh_token=refresh_token)
                token, refresh_token = fresh.access_token, fresh.refresh_token or refresh_token
            oauth.delete_connection(access_token=token, connection_id=connection.xero_connection_id)
        report["connection_deleted"] = _outcome_of(delete)
    if refresh_token and _revoke_is_safe(connection):
        report["authorisation_revoked"] = _outcome_of(lambda: oauth.revoke(refresh_token=refresh_token))
    with transaction.atomic():
        connection = XeroConnection.objects.select_for_update().get(pk=connection.pk)
        if not connection.is_current:
            return connection
        connection.clear_tokens()
        connection.save(update_fields=["access_token_encrypted", "refresh_token_encrypted",
                                       "previous_refresh_token_encrypted", "access_token_expires_at"])
        who = "platform staff" if as_staff and roles.staff_may(user=actor, action=Action.DISCONNECT) else "an Admin"
        connection_states.disconnect(connection, actor=actor, reason=f"Disconnected from Xero by {who}",
                                     details=report)
    log.info("xero.connection.disconnected organisation=%s connection=%s report=%s", organisation.pk,
             connection.pk, report)
    return connection


# --- keep alive -------------------------------------------------------------------------


def connections_keep_alive() -> int:
    """Refresh every connected connection whose refresh token is older than
    XERO_REFRESH_KEEP_ALIVE_DAYS (default 20; Xero lets an unused one die after 60).
    Returns how many were refreshed. Also forgets expired pending sign-ins."""
    from . import tokens

    PendingAuthorisation.objects.filter(expires_at__lt=timezone.now() - timedelta(days=1)).delete()
    PendingAuthorisation.objects.filter(expires_at__lt=timezone.now()).exclude(
        access_token_encrypted="", refresh_token_encrypted="").update(access_token_encrypted="",
                                                                      refresh_token_encrypted="")
    cutoff = timezone.now() - timedelta(days=settings.XERO_REFRESH_KEEP_ALIVE_DAYS)
    due = XeroConnection.objects.filter(is_current=True, status__in=[S.CONNECTED, S.REMOVED_IN_XERO]).exclude(
        refresh_token_encrypted="").filter(refresh_token_issued_at__lt=cutoff).values_list("pk", flat=True)
    refreshed = 0
    for pk in list(due):
        try:
            tokens.access_token(pk, force=True)
            refreshed += 1
        except errors.XeroError as exc:  # tokens.py already moved the state on invalid_grant
            log.warning("xero.token.keep_alive.failed connection=%s error=%s", pk, exc.__class__.__name__)
    return refreshed


# --- problems: one place that moves the state and tells the admins -----------------------


PROBLEM_TRANSITIONS = {
    S.NEEDS_RECONNECT: connection_states.mark_needs_reconnect,
    S.REMOVED_IN_XERO: connection_states.mark_removed_in_xero,
}


def connection_mark_problem(connection: XeroConnection, *, status: str, reason: str, actor=None,
                            details=None) -> ConnectionEvent | None:
    """Move a connection into "needs reconnect" or "removed in Xero" (when allowed from its
    current state) and email the organisation's admins when it was working until now.
    Every code path that finds such a problem (token refresh, API calls, health checks)
    comes through here."""
    transition = PROBLEM_TRANSITIONS[status]
    if connection.status == status or not connection.is_current:
        return None
    if not connection_states.allowed(transition.__name__, connection.status):
        return None
    was_working = connection.status == S.CONNECTED
    event = transition(connection, actor=actor, reason=reason, details=details)
    if was_working:
        connection_id = connection.pk
        transaction.on_commit(lambda: async_task("xero_connect.tasks.connections.connection_problem_notify",
                                                 connection_id))
    return event


def reconnect_url(organisation: Organisation) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("connection_reconnect", args=[organisation.slug])


def connection_problem_notify(*, connection_id: int) -> int:
    """Email the organisation's admins that the connection needs them. Returns emails sent."""
    connection = XeroConnection.objects.select_related("organisation").filter(pk=connection_id).first()
    if connection is None or connection.status not in PROBLEM_TRANSITIONS:
        return 0
    organisation = connection.organisation
    from ..selectors.connections import presentation

    status = presentation(connection)
    sent = 0
    for admin in roles.admins_of(organisation):
        if not admin.email:
            continue
        context = {"organisation": organisation, "connection": connection, "status": status,
                   "admin_name": roles.display_name(admin), "reconnect_url": reconnect_url(organisation),
                   "connection_url": settings.SITE_URL.rstrip("/") + reverse("connection_page",
                                                                             args=[organisation.slug])}
        subject = render_to_string("email/connection_problem_subject.txt", context).strip()
        body = render_to_string("email/connection_problem.txt", context)
        try:
            sent += send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [admin.email])
        except Exception:  # noqa: BLE001 - a mail server hiccup must not break the caller
            log.exception("xero.connection.notify.failed connection=%s", connection.pk)
    connection_states.record_check(
        organisation=organisation, connection=connection, kind=ConnectionEvent.Kind.NOTE,
        reason=f"Emailed {sent} admin{'s' if sent != 1 else ''} the reconnect link", outcome="ok" if sent else "problem")
    log.info("xero.connection.notify organisation=%s connection=%s sent=%s", organisation.pk, connection.pk, sent)
    return sent


def connection_health_check(*, organisation, actor=None):
    """The contract's name for the health check; the checks live in services.diagnosis."""
    from .diagnosis import connection_health_check as run

    return run(organisation=organisation, actor=actor)
