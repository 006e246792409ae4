from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from .. import roles
from ..roles import Action
from ..selectors import organisations as org_selectors
from ..selectors.access import organisations_for
from .base import organisation_view


@login_required
def home(request):
    """One organisation: go straight there. Several: the portal lists them."""
    orgs = list(organisations_for(user=request.user).values_list("slug", flat=True)[:2])
    if len(orgs) == 1:
        return redirect("organisation_home", org_slug=orgs[0])
    return redirect("portal")


@organisation_view(Action.VIEW)
def organisation_home(request):
    organisation = request.organisation
    context = org_selectors.organisation_home_context(organisation=organisation, membership=request.membership)
    context["admin_names"] = roles.admin_names(organisation)
    return render(request, "xero_connect/organisation/home.html", context)
