"""The bookkeeper portal: every organisation at a glance, bulk actions across them.

Thin: the page comes from selectors.portal, bulk actions go to services.portal.
"""
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from ..models import BulkJob, ConnectionStatus, DocumentType, Role
from ..selectors import portal as portal_selectors
from ..selectors.access import access_portal_job
from ..selectors.connections import PRESENTATION
from ..services import portal as portal_service


class BulkActionForm(forms.Form):
    kind = forms.ChoiceField(choices=[(k, a.label) for k, a in portal_service.BULK_ACTIONS.items()])
    organisations = forms.Field(required=False)  # every id is checked against memberships by the service
    all_matching = forms.BooleanField(required=False)
    date_from = forms.DateField(required=False)
    date_to = forms.DateField(required=False)
    doc_types = forms.MultipleChoiceField(required=False, choices=DocumentType.choices)

    def clean_organisations(self):
        return self.data.getlist("organisations") if hasattr(self.data, "getlist") else []

    def clean(self):
        data = super().clean()
        if data.get("kind") == BulkJob.Kind.EXPORT_RANGE and not (data.get("date_from") and data.get("date_to")):
            raise forms.ValidationError("Choose the first and last date of the range to export.")
        return data


def _portal_url(filters: portal_selectors.PortalFilters) -> str:
    from django.utils.http import urlencode

    query = urlencode(filters.as_query())
    return reverse("portal") + (f"?{query}" if query else "")


@login_required
@require_GET
def portal(request):
    filters = portal_selectors.PortalFilters.from_query(request.GET)
    page = portal_selectors.portal_page(user=request.user, filters=filters)
    recent_jobs = list(BulkJob.objects.filter(actor=request.user, organisation=None)[:5])
    status_choices = [(code, PRESENTATION[code].words) for code in
                      (ConnectionStatus.CONNECTED, ConnectionStatus.NEEDS_RECONNECT, ConnectionStatus.REMOVED_IN_XERO,
                       "not_connected")]
    return render(request, "xero_connect/portal/index.html", {
        "p": page,
        "filters": filters,
        "status_choices": status_choices,
        "role_choices": Role.choices,
        "sort_choices": [(key, label) for key, (_, label) in portal_selectors.SORTS.items()],
        "per_page_choices": portal_selectors.PER_PAGE_CHOICES,
        "bulk_actions": portal_service.BULK_ACTIONS.values(),
        "doc_types": DocumentType.choices,
        "recent_jobs": recent_jobs,
        "filter_query": filters.as_query(),
        "status_counts": [(code, n, PRESENTATION[code]) for code, n in page.counts_by_status.items()],
        "now": timezone.now(),
    })


@login_required
@require_POST
def portal_bulk(request):
    filters = portal_selectors.PortalFilters.from_query(request.POST)
    back = _portal_url(filters)
    form = BulkActionForm(request.POST)
    if not form.is_valid():
        for error in form.non_field_errors() or [e for errs in form.errors.values() for e in errs]:
            messages.error(request, error)
        return redirect(back)
    data = form.cleaned_data
    if data["all_matching"]:
        ids = portal_selectors.portal_organisation_ids(user=request.user, filters=filters)
    else:
        ids = data["organisations"]
    if not ids:
        messages.error(request, "Select at least one organisation first.")
        return redirect(back)
    try:
        job = portal_service.portal_bulk_start(
            actor=request.user, organisation_ids=ids, kind=data["kind"],
            params={"date_from": data["date_from"], "date_to": data["date_to"], "doc_types": data["doc_types"]}
            if data["kind"] == BulkJob.Kind.EXPORT_RANGE else {})
    except ValueError as error:
        messages.error(request, str(error))
        return redirect(back)
    return redirect("portal_job", job_id=job.pk)


def _job_for(request, job_id: int) -> BulkJob:
    """A portal job is visible to the person who started it, nobody else (404)."""
    return access_portal_job(actor=request.user, job_id=job_id)


def _progress(job: BulkJob, since: int = 0) -> dict:
    return {
        "id": job.pk,
        "status": job.status,
        "status_words": job.get_status_display(),
        "finished": job.status in (BulkJob.Status.DONE, BulkJob.Status.FAILED),
        "percent": job.percent,
        "total": job.total,
        "done": job.done,
        "failed": job.failed,
        "skipped": job.skipped,
        "problems": job.waiting,
        "summary": job.summary,
        "results": [
            {"index": i, "outcome": r["outcome"], "outcome_words": portal_service.OUTCOME_WORDS.get(r["outcome"], ""),
             "detail": r.get("detail", ""), "link": r.get("link", "")}
            for i, r in enumerate(job.results) if i >= since and r["outcome"] != portal_service.PENDING
        ],
    }


@login_required
@require_GET
def portal_job(request, job_id: int):
    job = _job_for(request, job_id)
    return render(request, "xero_connect/portal/job.html", {
        "job": job, "progress": _progress(job), "action": portal_service.BULK_ACTIONS.get(job.kind),
        "results": [{**r, "outcome_words": portal_service.OUTCOME_WORDS.get(r["outcome"], r["outcome"])}
                    for r in job.results],
    })


@login_required
@require_GET
def portal_job_progress(request, job_id: int):
    job = _job_for(request, job_id)
    try:
        since = max(0, int(request.GET.get("since", 0)))
    except ValueError:
        since = 0
    return JsonResponse(_progress(job, since))
