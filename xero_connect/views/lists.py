"""List pages: browse and search each list, Refresh lists, and a refresh's progress/result."""
from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from .. import messages as words
from .. import roles
from ..models import ListName, ListRefresh
from ..roles import Action
from ..selectors import lists as selectors
from ..selectors.access import access_list_refresh
from ..selectors.connections import current_connection, presentation
from ..services import lists as services
from .base import can, organisation_view


@organisation_view(Action.VIEW)
@require_GET
def lists_index(request):
    organisation = request.organisation
    list_name = request.GET.get("list") or ListName.ACCOUNTS
    if list_name not in selectors.SPECS:
        list_name = ListName.ACCOUNTS
    status = request.GET.get("status") or "active"
    if status not in selectors.STATUS_FILTERS:
        status = "active"
    search = request.GET.get("q", "")[:100]
    page = selectors.list_items(organisation=organisation, list_name=list_name, search=search, status=status,
                                page=request.GET.get("page") or 1)
    counts = selectors.list_counts(organisation=organisation)
    tabs = [{"name": n, "label": selectors.SPECS[n].label, "count": counts.get(n, 0), "current": n == list_name}
            for n in selectors.LIST_ORDER]
    states = selectors.sync_states(organisation=organisation)
    connection = current_connection(organisation=organisation)
    context = {
        "organisation": organisation,
        "spec": selectors.SPECS[list_name],
        "list_name": list_name,
        "tabs": tabs,
        "page": page,
        "search": search,
        "status": status,
        "status_filters": selectors.STATUS_FILTERS,
        "sync_state": states.get(list_name),
        "latest_refresh": selectors.latest_refresh(organisation=organisation),
        "recent_refreshes": selectors.recent_refreshes(organisation=organisation, limit=5),
        "can_refresh": can(request, Action.REFRESH_LISTS),
        "connection_status": presentation(connection),
        "without_rate": selectors.currencies_without_rate(organisation=organisation)
        if list_name == ListName.CURRENCIES else [],
        "list_choices": [(n, dict(ListName.choices)[n]) for n in services.ORDER],
    }
    return render(request, "xero_connect/lists/index.html", context)


@organisation_view(Action.REFRESH_LISTS)
def lists_refresh(request):
    """POST: start Refresh lists (all lists, or those ticked) and show its progress."""
    organisation = request.organisation
    if request.method != "POST":
        return redirect("lists_index", org_slug=organisation.slug)
    wanted = [n for n in request.POST.getlist("lists") if n in services.ORDER] or None
    refresh = services.lists_refresh_enqueue(organisation=organisation, actor=request.user,
                                             trigger=ListRefresh.Trigger.MANUAL, lists=wanted)
    messages.info(request, "Refresh lists started: the lists are read from Xero in the background.")
    return redirect("lists_refresh_detail", org_slug=organisation.slug, refresh_id=refresh.pk)


def _failure_for_reader(request, failure: dict | None) -> dict | None:
    """The stored failure, its next step worded for the reader: an Admin gets the button to
    press, a Member whom to ask."""
    if not failure:
        return failure
    action = failure.get("action")
    if action not in ("connect", "reconnect"):
        return failure
    is_admin = can(request, Action.RECONNECT)
    admin_names = [] if is_admin else roles.admin_names(request.organisation)
    return {**failure, "next_step": words.next_step(action, is_admin=is_admin, admin_names=admin_names),
            "button": words.button_for(action) if is_admin else ""}


@organisation_view(Action.VIEW)
@require_GET
def lists_refresh_detail(request, refresh_id: int):
    organisation = request.organisation
    refresh = access_list_refresh(actor=request.user, organisation=organisation, refresh_id=refresh_id)
    context = {
        "organisation": organisation,
        "refresh": refresh,
        "rows": selectors.refresh_rows(refresh),
        "progress": selectors.refresh_progress(refresh),
        "failure": _failure_for_reader(request, (refresh.results or {}).get("_failure")),
        "can_refresh": can(request, Action.REFRESH_LISTS),
    }
    return render(request, "xero_connect/lists/refresh.html", context)


@organisation_view(Action.VIEW)
@require_GET
def lists_refresh_progress(request, refresh_id: int):
    refresh = access_list_refresh(actor=request.user, organisation=request.organisation, refresh_id=refresh_id)
    response = JsonResponse(selectors.refresh_progress(refresh))
    response["Cache-Control"] = "no-store"
    return response
