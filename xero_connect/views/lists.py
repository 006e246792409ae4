"""List pages. Implemented by the lists work (issue 5)."""
from django.shortcuts import redirect

from ..roles import Action
from .base import organisation_view


@organisation_view(Action.VIEW)
def lists_index(request):
    return redirect("organisation_home", org_slug=request.organisation.slug)


@organisation_view(Action.REFRESH_LISTS)
def lists_refresh(request):
    return redirect("organisation_home", org_slug=request.organisation.slug)
