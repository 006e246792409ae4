"""Connection pages. Implemented by the connection-lifecycle work (issue 4)."""
from django.shortcuts import redirect

from ..roles import Action
from .base import organisation_view


@organisation_view(Action.CONNECT)
def connection_start(request):
    return redirect("organisation_home", org_slug=request.organisation.slug)


@organisation_view(Action.DISCONNECT)
def connection_disconnect(request):
    return redirect("organisation_home", org_slug=request.organisation.slug)


@organisation_view(Action.DIAGNOSE)
def connection_diagnose(request):
    return redirect("organisation_home", org_slug=request.organisation.slug)
