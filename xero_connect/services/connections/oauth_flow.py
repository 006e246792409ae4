"""The OAuth pipeline: connect and reconnect, choose the Xero organisation, confirm ("Finish").

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
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from ... import connection_states, roles
from ... import messages as words
from ...config import xero_config
from ...models import (ConnectionEvent, ExportRecord, ExportState, Organisation, PendingAuthorisation,
                       XeroConnection)
from ...roles import Action
from ...xero import errors, oauth
from .. import exports, lists, xero_access
from ..tokens import token_plaintext
from .cleanup import _adopt_shared_connections, _clear_old_authorisations, _in_use_elsewhere, _outcome_of
from .failures import (ConnectionFlowError, FinishedElsewhere, FinishRefusedByXero, SignInCancelled, SignInRefused,
                       SignInTimedOut, SwitchConfirmationRequired, SwitchConsequence)

log = logging.getLogger("xero.connections")

SESSION_KEY = "xero_oauth_states"
MAX_PENDING_SIGN_INS = 10
PENDING_TTL = timedelta(minutes=30)
# A second "Finish" waits for the first one's result: at most this many HTTP timeouts, asking every POLL.
FINISH_WAIT_TIMEOUTS = 2
FINISH_WAIT_POLL_SECONDS = 0.1


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
        "exp": now + xero_config().oauth_state_ttl,
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
        raise ConnectionFlowError("xero_error", words.SIGN_IN_REFUSED, organisation=organisation,
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
        # Plaintext in, sealed by the field (models.fields.EncryptedTextField).
        access_token_encrypted=tokens.access_token, refresh_token_encrypted=tokens.refresh_token,
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
    deadline = time.monotonic() + xero_config().http_timeout * FINISH_WAIT_TIMEOUTS
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
        time.sleep(FINISH_WAIT_POLL_SECONDS)


def connection_complete(*, pending: PendingAuthorisation, actor, tenant_id: str,
                        confirm_switch: bool = False) -> XeroConnection:
    """"Finish": link the chosen Xero organisation. Idempotent: a second call for the same
    pending sign-in returns the connection the first one made.

    Raises ConnectionFlowError (and its kinds) for a sign-in that cannot go on,
    SwitchConfirmationRequired, roles.AdminRequired, or FinishRefusedByXero when Xero fails."""
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

    access_token = token_plaintext(pending.access_token_encrypted, what=f"pending={pending.pk} access")
    if not access_token:  # the key that sealed it was dropped meanwhile: only a new sign-in helps
        PendingAuthorisation.objects.filter(pk=pending.pk).update(completed_at=None)
        raise SignInTimedOut(organisation=organisation, detail="pending sign-in token unreadable")
    try:
        details = _organisation_details(tenant_id=tenant_id, access_token=access_token)
    except errors.XeroError as exc:
        PendingAuthorisation.objects.filter(pk=pending.pk).update(completed_at=None)
        raise FinishRefusedByXero(exc) from exc

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
    refresh_token = token_plaintext(pending.refresh_token_encrypted, what=f"pending={pending.pk} refresh")
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
    """Xero's Organisation record (Name, ShortCode, BaseCurrency). Raises the seam's
    XeroError, or errors.RateLimited when the shared budget has no call slot soon."""
    api = xero_access.api_for_new_sign_in(tenant_id=tenant_id, access_token=access_token)
    try:
        return api.organisation()
    except xero_access.NoCallSlot as slot:
        raise slot.as_rate_limited() from slot


def pending_currency_mismatch(*, pending, tenant_id: str, organisation) -> dict | None:
    """Before Finish: does the chosen Xero organisation keep its books in another currency than
    this organisation? Picking the wrong one of several Xero organisations is the easiest mistake
    in the sign-in, and Xero would refuse most exports (other tax codes and accounts) afterwards.
    Best effort: None when it matches or cannot be told right now."""
    if not tenant_id or pending.completed_at is not None:
        return None
    access_token = token_plaintext(pending.access_token_encrypted, what=f"pending={pending.pk} access")
    if not access_token:
        return None
    try:
        details = _organisation_details(tenant_id=tenant_id, access_token=access_token)
    except errors.XeroError:
        return None
    xero_currency = (details.get("BaseCurrency") or "").upper()
    if xero_currency and organisation.base_currency and xero_currency != organisation.base_currency.upper():
        return {"xero_currency": xero_currency, "our_currency": organisation.base_currency.upper()}
    return None


def _after_connect(*, organisation, actor) -> None:
    """The two imports of every (re)connect, and the export queue's waiting items."""
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
    token = token_plaintext(pending.access_token_encrypted, what=f"pending={pending.pk} access")
    if token and pending.expires_at > timezone.now():
        for tenant in pending.tenants:
            if tenant.get("id") and not _in_use_elsewhere(tenant_id=tenant["tenantId"], connection_id=tenant["id"]):
                _outcome_of(lambda t=tenant: oauth.delete_connection(access_token=token, connection_id=t["id"]))
    PendingAuthorisation.objects.filter(pk=pending.pk).update(access_token_encrypted="", refresh_token_encrypted="")
    connection_states.record_check(
        organisation=pending.organisation, actor=actor, kind=ConnectionEvent.Kind.OAUTH,
        connection=XeroConnection.objects.filter(organisation=pending.organisation, is_current=True).first(),
        reason="Sign-in to Xero cancelled before choosing the organisation", outcome="cancelled")
