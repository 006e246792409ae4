"""The sandbox's own pages: index, an organisation (documents, Connected Apps), a document,
a contact, and Xero's deep-link entry point."""
import re
import uuid
from urllib.parse import parse_qsl, urlencode, urlsplit

from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from .. import serializers as s
from .. import services
from ..models import Account, Contact, Document, SandboxOrganisation
from .identity import current_user


def _login_redirect(request):
    return HttpResponseRedirect(f"{reverse('xero_sandbox:login')}?{urlencode({'next': request.get_full_path()})}")


def _org_for(request, tenant_id):
    """(user, organisation) when the signed-in sandbox user may see it; None user → sign in."""
    user = current_user(request)
    org = get_object_or_404(SandboxOrganisation, tenant_id=tenant_id)
    if user is not None and not user.organisations.filter(pk=org.pk).exists():
        raise Http404("This organisation is not one of yours.")
    return user, org


def index(request):
    user = current_user(request)
    orgs = user.organisations.order_by("name") if user else SandboxOrganisation.objects.order_by("name")
    return render(request, "xero_sandbox/index.html", {
        "sandbox_user": user, "organisations": orgs, "seeded": SandboxOrganisation.objects.exists(),
    })


def organisation(request, tenant_id):
    user, org = _org_for(request, tenant_id)
    if user is None:
        return _login_redirect(request)
    docs = (Document.objects.filter(organisation=org).select_related("contact", "target")
            .order_by("-updated_at")[:200])
    return render(request, "xero_sandbox/organisation.html", {
        "sandbox_user": user, "org": org, "documents": docs, "apps": services.connected_apps(tenant=org),
        "accounts": Account.objects.filter(organisation=org), "summary": services.lists_summary(org),
        "contacts": Contact.objects.filter(organisation=org)[:100],
    })


@require_http_methods(["POST"])
def disconnect(request, tenant_id, client_id):
    user, org = _org_for(request, tenant_id)
    if user is None:
        return _login_redirect(request)
    services.disconnect_app(tenant=org, client_id=client_id)
    return HttpResponseRedirect(reverse("xero_sandbox:organisation", args=[org.tenant_id]) + "#connected-apps")


def document(request, tenant_id, document_id):
    user, org = _org_for(request, tenant_id)
    if user is None:
        return _login_redirect(request)
    doc = get_object_or_404(Document.objects.select_related("contact", "target"), organisation=org,
                            document_id=document_id)
    return render(request, "xero_sandbox/document.html", {
        "sandbox_user": user, "org": org, "doc": doc, "json": s.document(doc, unit_dp=4),
        "lines": doc.data.get("LineItems") or doc.data.get("JournalLines") or [],
        "title": _title(doc), "actions": services.document_actions(doc),
        "refused": request.GET.get("refused", "")[:300],
    })


@require_http_methods(["POST"])
def document_change(request, tenant_id, document_id):
    """Void, Delete or a new first-line amount, as Xero allows per status (services)."""
    user, org = _org_for(request, tenant_id)
    if user is None:
        return _login_redirect(request)
    get_object_or_404(Document, organisation=org, document_id=document_id)
    action = request.POST.get("action", "")
    back = reverse("xero_sandbox:document", args=[org.tenant_id, document_id])
    try:
        if action in services.STATUS_ACTIONS:
            services.document_set_status(tenant=org, document_id=document_id, action=action)
        elif action == "amount":
            services.document_set_amount(tenant=org, document_id=document_id,
                                         unit_amount=request.POST.get("unit_amount", ""))
        else:
            raise services.DocumentActionRefused("Unknown action.")
    except services.DocumentActionRefused as exc:
        return HttpResponseRedirect(f"{back}?{urlencode({'refused': str(exc)})}")
    return HttpResponseRedirect(back)


def contact(request, tenant_id, contact_id):
    user, org = _org_for(request, tenant_id)
    if user is None:
        return _login_redirect(request)
    found = get_object_or_404(Contact, organisation=org, contact_id=contact_id)
    docs = Document.objects.filter(organisation=org, contact=found).order_by("-date")[:100]
    return render(request, "xero_sandbox/contact.html", {"sandbox_user": user, "org": org, "contact": found,
                                                         "documents": docs})


def _title(doc):
    return {
        "ACCREC": "Invoice", "ACCPAY": "Bill", "ACCRECCREDIT": "Credit note", "ACCPAYCREDIT": "Supplier credit note",
    }.get(doc.doc_type, {"payment": "Payment", "manualjournal": "Manual journal"}.get(doc.kind, "Document"))


# Xero's deep links (and the sandbox's own, for documents Xero links differently).
_DEEP_LINKS = [
    (re.compile(r"^/Accounts(Receivable|Payable)/(View|Edit)\.aspx$", re.I), "invoiceid", "doc"),
    (re.compile(r"^/Accounts(Receivable|Payable)/ViewCreditNote\.aspx$", re.I), "creditnoteid", "doc"),
    (re.compile(r"^/Journal/View\.aspx$", re.I), "invoiceid", "doc"),
    (re.compile(r"^/Bank/ViewTransaction\.aspx$", re.I), "banktransactionid", "doc"),
    (re.compile(r"^/Contacts/View/(?P<id>[0-9a-fA-F-]{36})$", re.I), None, "contact"),
    (re.compile(r"^/Sandbox/Document/(?P<id>[0-9a-fA-F-]{36})$", re.I), None, "doc"),
]


def deep_link(request):
    """go.xero.com/organisationlogin/default.aspx?shortcode=…&redirecturl=… → the page."""
    user = current_user(request)
    if user is None:
        return _login_redirect(request)
    org = SandboxOrganisation.objects.filter(short_code=request.GET.get("shortcode", "")).first()
    if org is None:
        raise Http404("No sandbox organisation has this shortcode.")
    target = urlsplit(request.GET.get("redirecturl", ""))
    query = {k.lower(): v for k, v in parse_qsl(target.query)}
    for pattern, param, what in _DEEP_LINKS:
        found = pattern.match(target.path)
        if not found:
            continue
        raw_id = found.groupdict().get("id") or query.get(param or "", "")
        try:
            object_id = uuid.UUID(raw_id)
        except ValueError:
            raise Http404("The link does not name a valid id.")
        view = "contact" if what == "contact" else "document"
        return HttpResponseRedirect(reverse(f"xero_sandbox:{view}", args=[org.tenant_id, object_id]))
    return HttpResponseRedirect(reverse("xero_sandbox:organisation", args=[org.tenant_id]))
