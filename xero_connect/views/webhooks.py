"""The Webhooks page of an organisation: Admins add, enable and delete endpoints and resend
deliveries; Members see the endpoints and the delivery log. Thin: services.webhooks_out decides."""
from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from .. import roles
from ..models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from ..roles import Action
from ..services import webhooks_out
from .base import can, organisation_view
from .shown_once import never_cached, shown_once_keep, shown_once_take


class EndpointForm(forms.Form):
    url = forms.URLField(max_length=2000, assume_scheme="https", label="Address", help_text="Where we POST the events (https).")
    description = forms.CharField(max_length=200, required=False)
    events = forms.MultipleChoiceField(choices=WebhookEvent.choices, required=False,
                                       widget=forms.CheckboxSelectMultiple,
                                       help_text="None ticked: every event.")


def _page(request, *, form=None, secret="", status=200):
    organisation = request.organisation
    endpoints = WebhookEndpoint.objects.filter(organisation=organisation)
    deliveries = (WebhookDelivery.objects.filter(endpoint__organisation=organisation)
                  .select_related("endpoint").order_by("-created_at", "-id")[:50])
    return never_cached(render(request, "xero_connect/webhooks/page.html", {
        "organisation": organisation, "endpoints": endpoints, "deliveries": deliveries,
        "can_manage": can(request, Action.MANAGE_API_KEYS), "form": form or EndpointForm(), "secret": secret,
        "admin_names": roles.admin_names(organisation),
    }, status=status), secret=secret)


def _endpoint_or_404(request, endpoint_id):
    endpoint = WebhookEndpoint.objects.filter(organisation=request.organisation, pk=endpoint_id).first()
    if endpoint is None:
        raise Http404("No such endpoint.")
    return endpoint


@organisation_view(Action.VIEW)
@require_http_methods(["GET"])
def webhooks_page(request):
    """The endpoints and deliveries; a new endpoint's signing secret is shown here once."""
    return _page(request, secret=shown_once_take(request, what="webhook", organisation=request.organisation))


@organisation_view(Action.MANAGE_API_KEYS)
@require_http_methods(["GET", "POST"])
def webhook_endpoint_create(request):
    if request.method == "GET":
        return redirect("webhooks_page", org_slug=request.organisation.slug)
    form = EndpointForm(request.POST)
    if form.is_valid():
        try:
            endpoint, secret = webhooks_out.endpoint_create(
                organisation=request.organisation, actor=request.user, url=form.cleaned_data["url"],
                events=form.cleaned_data["events"], description=form.cleaned_data["description"])
        except ValueError as exc:
            form.add_error("url", str(exc))
        else:
            shown_once_keep(request, what="webhook", organisation=request.organisation, secret=secret)
            return redirect("webhooks_page", org_slug=request.organisation.slug)
    return _page(request, form=form, status=400)


@organisation_view(Action.MANAGE_API_KEYS)
@require_http_methods(["GET", "POST"])
def webhook_endpoint_change(request, endpoint_id):
    endpoint = _endpoint_or_404(request, endpoint_id)
    if request.method == "POST":
        if request.POST.get("do") == "delete":
            webhooks_out.endpoint_delete(endpoint=endpoint, actor=request.user)
            messages.success(request, f"The endpoint {endpoint.url} is deleted.")
        elif request.POST.get("do") == "enable":
            webhooks_out.endpoint_enable(endpoint=endpoint, actor=request.user)
            messages.success(request, f"The endpoint {endpoint.url} is enabled again; pending events go out now.")
    return redirect("webhooks_page", org_slug=request.organisation.slug)


@organisation_view(Action.MANAGE_API_KEYS)
@require_http_methods(["GET", "POST"])
def webhook_delivery_resend(request, delivery_id):
    delivery = WebhookDelivery.objects.filter(endpoint__organisation=request.organisation, pk=delivery_id).first()
    if delivery is None:
        raise Http404("No such delivery.")
    if request.method == "POST":
        webhooks_out.webhook_resend(delivery=delivery, actor=request.user)
        messages.success(request, f"Sending the {delivery.event_type} event again.")
    return redirect("webhooks_page", org_slug=request.organisation.slug)
