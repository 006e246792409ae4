"""Export Data pages. Implemented by the export work (issue 6)."""
from django.shortcuts import redirect

from ..roles import Action
from .base import organisation_view


@organisation_view(Action.VIEW)
def exports_page(request):
    return redirect("organisation_home", org_slug=request.organisation.slug)
