"""The "API keys" page of an organisation (Admins create and revoke; Members see the list),
and the door a connect link opens. Thin: services.api_keys and services.connect_links decide."""
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from .. import roles
from ..models import APIKey, Organisation
from ..roles import Action
from ..selectors.access import membership_for
from ..selectors.connections import current_connection
from ..services import api_keys as services
from ..services import connect_links
from .base import can, organisation_view
from .shown_once import never_cached, shown_once_keep, shown_once_take


class APIKeyForm(forms.Form):
    name = forms.CharField(max_length=50, help_text="Says who uses it, e.g. “Inventory system (production)”.")
    expiry_date = forms.DateTimeField(required=False, label="Expires",
                                      widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                      help_text="Leave empty for a key that does not expire.")

    def clean_expiry_date(self):
        value = self.cleaned_data.get("expiry_date")
        if value is not None and value <= timezone.now():
            raise forms.ValidationError("Choose a time in the future.")
        return value


def _page(request, *, form=None, new_key="", status=200):
    organisation = request.organisation
    return never_cached(render(request, "xero_connect/api_keys/page.html", {
        "organisation": organisation, "keys": services.api_keys_of(organisation=organisation),
        "can_manage": can(request, Action.MANAGE_API_KEYS), "form": form or APIKeyForm(), "new_key": new_key,
        "admin_names": roles.admin_names(organisation), "now": timezone.now(),
    }, status=status), secret=new_key)


@organisation_view(Action.VIEW)
@require_http_methods(["GET"])
def api_keys_page(request):
    """The keys; a key just made is shown here once (views/shown_once.py), never on a reload."""
    return _page(request, new_key=shown_once_take(request, what="api_key", organisation=request.organisation))


@organisation_view(Action.MANAGE_API_KEYS)
@require_http_methods(["GET", "POST"])
def api_key_create(request):
    if request.method == "GET":
        return redirect("api_keys_page", org_slug=request.organisation.slug)
    form = APIKeyForm(request.POST)
    if not form.is_valid():
        return _page(request, form=form, status=400)
    api_key, key = services.api_key_create(organisation=request.organisation, actor=request.user,
                                           name=form.cleaned_data["name"],
                                           expiry_date=form.cleaned_data["expiry_date"])
    shown_once_keep(request, what="api_key", organisation=request.organisation, secret=key)
    return redirect("api_keys_page", org_slug=request.organisation.slug)


@organisation_view(Action.MANAGE_API_KEYS)
@require_http_methods(["GET", "POST"])
def api_key_revoke(request, prefix):
    api_key = APIKey.objects.filter(organisation=request.organisation, prefix=prefix).first()
    if api_key is None:
        raise Http404("No such API key.")
    if request.method == "POST":
        services.api_key_revoke(organisation=request.organisation, actor=request.user, api_key=api_key)
        messages.success(request, f"The API key “{api_key.name}” is revoked: it no longer works.")
    return redirect("api_keys_page", org_slug=request.organisation.slug)


@login_required
@require_http_methods(["GET"])
def connect_link(request, token):
    """A connect link from the host system: check it, remember where to go back to, and show the
    usual Connect (or Reconnect) page. Only the organisation's Admins get through."""
    try:
        organisation_id, return_url = connect_links.connect_link_read(token)
    except signing.BadSignature:
        return render(request, "xero_connect/api_keys/link_problem.html", status=400)
    organisation = Organisation.objects.filter(pk=organisation_id).first()
    if organisation is None:
        raise Http404("No such organisation.")
    membership = membership_for(user=request.user, organisation_slug=organisation.slug)
    roles.require(user=request.user, organisation=organisation, action=Action.CONNECT, role=membership.role)
    connect_links.return_url_remember(request.session, organisation=organisation, return_url=return_url)
    step = "connection_reconnect" if current_connection(organisation=organisation) else "connection_start"
    return redirect(step, org_slug=organisation.slug)
