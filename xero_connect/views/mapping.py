"""The Account mapping page (#15): every host category with its count of documents and its
mapping for the Xero organisation linked now. Admins edit; Members read."""
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from .. import messages as words
from .. import parsing, roles
from ..models import Account, HostCategory, TaxRate, TrackingOption
from ..roles import Action
from ..selectors import mapping as selectors
from ..selectors.connections import lists_tenant_id
from ..services import mapping as services
from .base import can, organisation_view

Kind = HostCategory.Kind


@organisation_view(Action.VIEW)
@require_GET
def mapping_index(request):
    organisation = request.organisation
    tenant_id = lists_tenant_id(organisation=organisation)
    rows = selectors.mapping_rows(organisation=organisation)
    accounts, taxes, options = selectors.choices(organisation=organisation, tenant_id=tenant_id)
    context = {
        "organisation": organisation,
        "rows": [{"row": r, "state_words": words.MAPPING_STATES[r.state],
                  "accounts": accounts.get(r.category.kind, []), "taxes": taxes.get(r.category.kind, []),
                  "options": options if r.category.kind == Kind.DIMENSION else []} for r in rows],
        "can_edit": can(request, Action.MAP),
        "admin_names": [] if can(request, Action.MAP) else roles.admin_names(organisation),
        "has_suggestions": any(r.state == "suggested" for r in rows),
        "connected": bool(tenant_id),
        "accounts_importing": bool(tenant_id) and not selectors.accounts_imported(organisation=organisation,
                                                                                  tenant_id=tenant_id),
        "words": words,
    }
    return render(request, "xero_connect/mapping/index.html", context)


def _pick(model, raw, organisation, tenant_id):
    """The chosen row by id, of this organisation and Xero organisation (None when empty)."""
    if not (raw or "").strip():
        return None
    pk = parsing.parse_id(raw)
    if pk is None:
        raise services.MappingRefused("That choice is not one of the list's entries.")
    row = model.objects.filter(pk=pk, organisation=organisation, tenant_id=tenant_id).first()
    if row is None:
        raise services.MappingRefused("That choice is not in the lists of the Xero organisation linked now.")
    return row


@organisation_view(Action.MAP)
@require_POST
def mapping_save(request, category_id):
    organisation = request.organisation
    category = HostCategory.objects.filter(pk=category_id, organisation=organisation).first()
    if category is None:
        raise Http404("No such category")
    tenant_id = lists_tenant_id(organisation=organisation)
    try:
        services.mapping_save(
            organisation=organisation, actor=request.user, category=category,
            account=_pick(Account, request.POST.get("account"), organisation, tenant_id),
            tax_rate=_pick(TaxRate, request.POST.get("tax_rate"), organisation, tenant_id),
            tracking_option=_pick(TrackingOption, request.POST.get("tracking_option"), organisation, tenant_id))
    except services.MappingRefused as exc:
        messages.error(request, f"{category.code}: {exc}")
    else:
        messages.success(request, f"{category.code}: {words.MAPPING_SAVED}")
    return redirect("mapping_index", org_slug=organisation.slug)


@organisation_view(Action.MAP)
@require_POST
def mapping_create_account(request, category_id):
    """Create the account in Xero with the code, name and type the Admin confirmed, and map
    the category to it."""
    organisation = request.organisation
    category = HostCategory.objects.filter(pk=category_id, organisation=organisation).first()
    if category is None:
        raise Http404("No such category")
    try:
        made = services.mapping_create_account(
            organisation=organisation, actor=request.user, category=category,
            code=request.POST.get("code", "")[:50], name=request.POST.get("name", "")[:200],
            account_type=request.POST.get("type", "")[:20])
    except services.MappingRefused as exc:
        messages.error(request, f"{category.code}: {exc}")
    else:
        messages.success(request, words.ACCOUNT_CREATED.format(code=made.account.code, name=made.account.name))
    return redirect("mapping_index", org_slug=organisation.slug)


@organisation_view(Action.MAP)
@require_POST
def mapping_accept_suggestions(request):
    organisation = request.organisation
    n = services.mapping_accept_suggestions(organisation=organisation, actor=request.user)
    if n:
        messages.success(request, words.SUGGESTIONS_ACCEPTED.format(n=n))
    else:
        messages.info(request, words.NO_SUGGESTIONS)
    return redirect("mapping_index", org_slug=organisation.slug)
