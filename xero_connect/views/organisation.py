from pathlib import Path

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from ..roles import Action
from ..selectors import organisations as org_selectors
from ..selectors.access import organisations_for
from .base import organisation_view
from .connection import card_context

FAVICON = Path(__file__).resolve().parents[1] / "static" / "xero_connect" / "favicon.svg"
SWITCHER_MATCHES = 20  # at most this many organisations in one switcher answer, whatever the membership count


@require_GET
@cache_control(public=True, max_age=86400)
def favicon(request):
    """/favicon.ico, which browsers ask for on every first load: the product's mark (SVG)."""
    return HttpResponse(FAVICON.read_bytes(), content_type="image/svg+xml")


@login_required
def home(request):
    """One organisation: go straight there. Several: the portal lists them. Platform staff who
    belong to none: the Django admin, where their work is."""
    orgs = list(organisations_for(user=request.user).values_list("slug", flat=True)[:2])
    if len(orgs) == 1:
        return redirect("organisation_home", org_slug=orgs[0])
    if not orgs and request.user.is_staff:
        return redirect("admin:index")
    return redirect("portal")


def _matching(user, query: str):
    orgs = organisations_for(user=user).only("name", "slug").order_by("name", "pk")
    query = query.strip()[:100]
    return orgs.filter(name__icontains=query) if query else orgs


@login_required
@require_GET
def organisations_json(request):
    """The switcher's suggestions: {"organisations": [{"name", "url"}…] (at most
    SWITCHER_MATCHES, by name), "more": bool}, only organisations the user belongs to."""
    found = list(_matching(request.user, request.GET.get("q", ""))[: SWITCHER_MATCHES + 1])
    return JsonResponse({
        "organisations": [{"name": o.name, "url": reverse("organisation_home", args=[o.slug])}
                          for o in found[:SWITCHER_MATCHES]],
        "more": len(found) > SWITCHER_MATCHES,
    })


@login_required
@require_GET
def organisation_switch(request):
    """The switcher's Go: the organisation named exactly (or the only match), else the portal
    searched for what was typed."""
    query = request.GET.get("q", "").strip()[:100]
    if query:
        exact = _matching(request.user, "").filter(name__iexact=query).first()
        if exact is None:
            few = list(_matching(request.user, query)[:2])
            exact = few[0] if len(few) == 1 else None
        if exact is not None:
            return redirect("organisation_home", org_slug=exact.slug)
    return redirect(reverse("portal") + ("?" + urlencode({"q": query}) if query else ""))


@organisation_view(Action.VIEW)
def organisation_home(request):
    context = org_selectors.organisation_home_context(organisation=request.organisation,
                                                     membership=request.membership)
    context.update(card_context(request, look=True))
    return render(request, "xero_connect/organisation/home.html", context)
