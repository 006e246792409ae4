"""Connection pages: connect / reconnect (the OAuth pipeline), choose the Xero organisation,
confirm ("Finish"), disconnect, diagnose, and the connection page with its history.
Thin doors: every decision is in services.connections / services.diagnosis."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from .. import messages as words
from .. import roles
from ..connection_states import NOT_CONNECTED
from ..messages import message_for
from ..models import ConnectionEvent, ExportRecord, ExportState, Role
from ..roles import Action
from ..selectors.access import access_pending_authorisation
from ..selectors.connections import current_connection, presentation
from ..selectors.organisations import recent_events
from ..services import connect_links
from ..services import connections as services
from ..services import diagnosis as diagnosis_service
from ..services import glance
from .base import can, organisation_view

FLOW_PAGES = {
    "cancelled": (words.SIGN_IN_CANCELLED.rstrip("."),
                  "Nothing was changed: the connection stays as it was. When you are ready, try again and press "
                  "Allow access on Xero's page.", "Try again"),
    "timed_out": ("Your sign-in session timed out",
                  "The sign-in to Xero took too long, was already finished in another tab, or its link was changed "
                  "on the way. This is the \"authentication or session timeout\" problem: you don't need to log "
                  "out, clear your cookies or change browser. Nothing was changed — just start again.",
                  "Start again"),
    "refused": ("This sign-in isn't yours to finish",
                "It was started by another user, or for an organisation you cannot connect. Nothing was changed.",
                ""),
    "missing_code": ("Xero did not send back a sign-in code",
                     "The answer from Xero was incomplete, so nothing was changed.", "Start again"),
    "code_rejected": ("This sign-in link was already used or has expired",
                      "This happens when the browser repeats the last step of the sign-in (Back or Refresh) or "
                      "waits too long on it. Nothing was changed.", "Start again"),
    "no_organisation": ("You didn't allow access to any Xero organisation",
                        "On Xero's page, select the organisation to connect and press Allow access.", "Start again"),
    "unknown_tenant": ("Choose one of the Xero organisations you allowed", "", "Start again"),
    "retry": ("Finishing did not complete", "", "Start again"),
    "finished_elsewhere": ("Xero was connected from another tab",
                           "While this sign-in was finishing, the organisation was connected to Xero from another "
                           "tab or window, and that connection is the one kept. This sign-in was not used: its access "
                           "was withdrawn in Xero and nothing of it is kept here. Open the Xero page to see the "
                           "connection.", ""),
    "xero_error": (words.SIGN_IN_REFUSED.rstrip("."), "", "Start again"),
}


def _flow_problem(request, exc: services.ConnectionFlowError):
    title, explanation, button = FLOW_PAGES.get(exc.kind, ("The sign-in to Xero did not complete", "", "Start again"))
    next_step = ""
    organisation = exc.organisation
    if exc.error is not None:
        is_admin = bool(organisation) and roles.can(user=request.user, organisation=organisation,
                                                    action=Action.RECONNECT)
        message = message_for(exc.error, is_admin=is_admin,
                              admin_names=roles.admin_names(organisation) if organisation and not is_admin else ())
        title, explanation, next_step = message.title, message.explanation, message.next_step
    elif exc.kind == "xero_error" and exc.detail:
        explanation = f"Xero said: {exc.detail}."
        next_step = "Start again; if it keeps failing, contact support."
    elif not explanation:
        explanation = str(exc)
    can_start = bool(organisation) and roles.can(user=request.user, organisation=organisation, action=Action.CONNECT)
    if organisation is None and exc.kind in ("timed_out", "cancelled"):
        can_start = True  # the organisation is unknown: "Start again" leads to the user's organisations
    return render(request, "xero_connect/connection/sign_in_problem.html", {
        "kind": exc.kind, "title": title, "explanation": explanation, "next_step": next_step,
        "button": button if can_start else "", "organisation": organisation,
        "start_url_name": ("connection_reconnect" if organisation and current_connection(organisation=organisation)
                           else "connection_start"),
    }, status=exc.status_code)


# --- the connection page ------------------------------------------------------------------


def card_context(request, *, look: bool = False) -> dict:
    """What the status card shows. With `look` (a GET of a page showing the card), Xero is asked
    once, cheaply, whether it still lists the organisation (services.glance), so a removal on
    Xero's side shows when the user looks."""
    organisation = request.organisation
    connection = current_connection(organisation=organisation)
    if look:
        glance.connection_glance(connection, actor=request.user)
    status = presentation(connection)
    is_admin = request.membership.role == Role.ADMIN
    admin_names = roles.admin_names(organisation)
    fix = {"not_connected": "connect", "needs_reconnect": "reconnect", "removed_in_xero": "reconnect"}.get(status.code)
    return {
        "organisation": organisation, "membership": request.membership,
        "is_admin": is_admin,
        "connection": connection, "status": status,
        "checked_line": words.last_checked(status.code, connection.last_health_check_at if connection else None),
        "card_step": words.next_step(fix, is_admin=is_admin, admin_names=admin_names) if fix else "",
        # A Member already told whom to ask for the next step needs no second "ask" sentence.
        "member_note": "" if is_admin or fix else words.admin_only("connect, reconnect or disconnect Xero",
                                                                   admin_names=admin_names),
        "admin_names": admin_names,
    }


def _last_check(connection):
    """The latest health check of the current connection (a ConnectionEvent), or None. A check
    of an earlier connection ("The app was disconnected in Xero" before a Reconnect) says
    nothing about this one."""
    if connection is None:
        return None
    return ConnectionEvent.objects.filter(connection=connection, kind=ConnectionEvent.Kind.CHECK).first()


@organisation_view(Action.VIEW)
@require_http_methods(["GET"])
def connection_page(request):
    organisation = request.organisation
    context = card_context(request, look=True)
    context.update({
        "events": recent_events(organisation=organisation, limit=30),
        "last_check": _last_check(context["connection"]),
        "waiting_exports": ExportRecord.objects.filter(organisation=organisation,
                                                       state=ExportState.WAITING_FOR_CONNECTION).count(),
        "show_details": True,
    })
    return render(request, "xero_connect/connection/page.html", context)


# --- connect / reconnect --------------------------------------------------------------


def _start(request, *, reconnect: bool):
    if request.method == "GET":
        context = card_context(request)
        context["reconnect"] = reconnect
        return render(request, "xero_connect/connection/start.html", context)
    url = services.oauth_start(organisation=request.organisation, actor=request.user, session=request.session,
                               reconnect=reconnect)
    return redirect(url)


@organisation_view(Action.CONNECT)
@require_http_methods(["GET", "POST"])
def connection_start(request):
    return _start(request, reconnect=current_connection(organisation=request.organisation) is not None)


@organisation_view(Action.RECONNECT)
@require_http_methods(["GET", "POST"])
def connection_reconnect(request):
    return _start(request, reconnect=True)


@login_required
@require_http_methods(["GET"])
def oauth_callback(request):
    """Xero's redirect back (settings.XERO_REDIRECT_URI). Global: the organisation comes from
    the state stored in the session."""
    try:
        pending = services.oauth_callback(session=request.session, user=request.user, params=request.GET)
    except services.ConnectionFlowError as exc:
        return _flow_problem(request, exc)
    step = "connection_confirm" if pending.chosen_tenant_id else "connection_choose"
    return redirect(step, org_slug=pending.organisation.slug, pending_id=pending.pk)


def _pending_or_404(request, pending_id):
    return access_pending_authorisation(actor=request.user, organisation=request.organisation, pending_id=pending_id)


def _pending_closed(request, pending):
    if pending.completed_at is not None:
        messages.info(request, "This sign-in was already finished.")
        return redirect("connection_page", org_slug=request.organisation.slug)
    return _flow_problem(request, services.SignInTimedOut(organisation=request.organisation))


@organisation_view(Action.CONNECT)
@require_http_methods(["GET", "POST"])
def connection_choose(request, pending_id):
    pending = _pending_or_404(request, pending_id)
    if not services.pending_is_open(pending):
        return _pending_closed(request, pending)
    error = ""
    if request.method == "POST":
        tenant_id = request.POST.get("tenant_id", "")
        try:
            services.pending_choose(pending=pending, actor=request.user, tenant_id=tenant_id)
        except services.ConnectionFlowError as exc:
            if exc.kind != "unknown_tenant":
                return _flow_problem(request, exc)
            error = "Select the Xero organisation to connect, then press Next."
        else:
            return redirect("connection_confirm", org_slug=request.organisation.slug, pending_id=pending.pk)
    current = current_connection(organisation=request.organisation)
    return render(request, "xero_connect/connection/choose.html", {
        "organisation": request.organisation, "pending": pending, "error": error, "current": current,
        "preselected": "" if error else _preselected(pending, current, request.organisation),
    }, status=400 if error else 200)


def _preselected(pending, current, organisation) -> str:
    """The tenant to tick first: the one chosen before, else the one linked until now, else (first
    connect) the Xero organisation whose name is exactly ours (ignoring case and outer spaces)."""
    ids = [t.get("tenantId") for t in pending.tenants]
    for candidate in (pending.chosen_tenant_id, current.tenant_id if current else ""):
        if candidate and candidate in ids:
            return candidate
    ours = organisation.name.strip().casefold()
    same = [t.get("tenantId") for t in pending.tenants if (t.get("tenantName") or "").strip().casefold() == ours]
    return same[0] if len(same) == 1 else ""


@organisation_view(Action.CONNECT)
@require_http_methods(["GET", "POST"])
def connection_confirm(request, pending_id):
    pending = _pending_or_404(request, pending_id)
    if request.method == "GET" and not services.pending_is_open(pending):
        return _pending_closed(request, pending)
    if request.method == "POST" and pending.completed_at is None and not services.pending_is_open(pending):
        return _pending_closed(request, pending)
    tenant_id = request.POST.get("tenant_id") or pending.chosen_tenant_id
    tenant = services.pending_tenant(pending, tenant_id)
    if tenant is None and pending.completed_at is None:
        return redirect("connection_choose", org_slug=request.organisation.slug, pending_id=pending.pk)
    organisation = request.organisation
    current = current_connection(organisation=organisation)
    consequence = services.connection_switch_consequence(organisation=organisation, tenant_id=tenant_id,
                                                         tenant_name=(tenant or {}).get("tenantName", ""))
    error = ""
    status = 200
    mismatch = None
    if request.method == "GET":
        mismatch = services.pending_currency_mismatch(pending=pending, tenant_id=tenant_id, organisation=organisation)
    if request.method == "POST":
        try:
            connection = services.connection_complete(pending=pending, actor=request.user, tenant_id=tenant_id,
                                                      confirm_switch=request.POST.get("confirm_switch") == "1")
        except services.SwitchConfirmationRequired as exc:
            consequence = exc.consequence
            error = "Tick the box to confirm the switch, or go back and choose the same Xero organisation as before."
            status = 400
        except services.ConnectionFlowError as exc:
            return _flow_problem(request, exc)
        except services.FinishRefusedByXero as exc:
            message = message_for(exc.error, is_admin=True)  # only Admins reach Finish
            error = f"{message.title}. {message.explanation} {message.next_step}"
            status = exc.status_code
        else:
            if not connection.is_current:
                # Finish pressed again on a page kept in the browser (Back) after this
                # connection was disconnected or replaced: nothing was connected now.
                return _pending_closed(request, pending)
            messages.success(request, f"Your organisation is connected: {organisation.name} is linked to "
                                      f"{connection.tenant_name} in Xero. Importing currencies and account codes "
                                      f"from Xero now.")
            back = connect_links.return_url_pop(request.session, organisation=organisation)
            return redirect(back or reverse("connection_page", kwargs={"org_slug": organisation.slug}))
    return render(request, "xero_connect/connection/confirm.html", {
        "organisation": organisation, "pending": pending, "tenant": tenant, "current": current,
        "consequence": consequence, "error": error, "several": len(pending.tenants) > 1, "mismatch": mismatch,
    }, status=status)


@organisation_view(Action.CONNECT)
@require_http_methods(["POST"])
def connection_pending_cancel(request, pending_id):
    pending = _pending_or_404(request, pending_id)
    services.pending_discard(pending=pending, actor=request.user)
    messages.info(request, f"{words.SIGN_IN_CANCELLED} Nothing was changed.")
    return redirect("connection_page", org_slug=request.organisation.slug)


# --- disconnect -----------------------------------------------------------------------------


@organisation_view(Action.DISCONNECT)
@require_http_methods(["GET", "POST"])
def connection_disconnect(request):
    organisation = request.organisation
    if current_connection(organisation=organisation) is None:
        messages.info(request, words.STATE_FACTS[NOT_CONNECTED])
        return redirect("connection_page", org_slug=organisation.slug)
    if request.method == "GET":
        return render(request, "xero_connect/connection/disconnect.html", card_context(request))
    services.connection_disconnect(organisation=organisation, actor=request.user)
    messages.success(request, "Disconnected from Xero. The history, lists and export ledger are kept; exports wait "
                              "until you connect again.")
    return redirect("connection_page", org_slug=organisation.slug)


# --- diagnose -----------------------------------------------------------------------------


@organisation_view(Action.DIAGNOSE)
@require_http_methods(["GET", "POST"])
def connection_diagnose(request):
    context = card_context(request)
    context["diagnosis"] = None
    if request.method == "POST":
        context["diagnosis"] = diagnosis_service.connection_health_check(organisation=request.organisation,
                                                                          actor=request.user)
        context.update(card_context(request))  # the status may have changed
        context["can_reconnect"] = can(request, Action.RECONNECT)
    else:
        context["last_check"] = _last_check(context["connection"])
    return render(request, "xero_connect/connection/diagnose.html", context)
