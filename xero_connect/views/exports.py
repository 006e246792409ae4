"""Export Data pages: thin doors to selectors.exports and services.exports/documents."""
from datetime import date, timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from .. import messages as words
from .. import roles
from ..models import FLAGGED_DRIFT, BulkJob, DocumentType, ExportRecord, ExportState, XeroDrift
from ..parsing import parse_id
from ..roles import Action
from ..selectors import exports as sel
from ..selectors.access import access_export_job, access_export_record
from ..services import drift
from ..services import exports as svc
from ..services.documents import COLUMNS, documents_import_csv
from .base import can, organisation_view

MAX_UPLOAD_BYTES = 5 * 1024 * 1024


def _date(value, default, label, notices):
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        notices.append(f"“{value[:20]}” is not a date (use YYYY-MM-DD), so the {label} date is {default:%-d %b %Y}.")
        return default


def _filters(params, today=None) -> dict:
    """The page's filters from GET or POST, normalised. A date range the wrong way round is
    swapped and an absurdly long one is shortened, each with a notice saying so."""
    default_from, default_to = sel.default_range(today or timezone.localdate())
    state = params.get("state", "")
    doc_type = params.get("type", "")
    notices: list[str] = []
    date_from = _date(params.get("from"), default_from, "start", notices)
    date_to = _date(params.get("to"), default_to, "end", notices)
    if date_from > date_to:
        date_from, date_to = date_to, date_from
        notices.append(f"The dates were the wrong way round: showing {date_from:%-d %b %Y} to {date_to:%-d %b %Y}.")
    if (date_to - date_from).days > sel.MAX_RANGE_DAYS:
        date_from = date_to - timedelta(days=sel.MAX_RANGE_DAYS)
        notices.append(f"A range can cover at most {sel.MAX_RANGE_DAYS // 365} years: showing {date_from:%-d %b %Y} "
                       f"to {date_to:%-d %b %Y}.")
    return {
        "date_from": date_from,
        "date_to": date_to,
        "state": state if state in ExportState.values else "",
        "doc_type": doc_type if doc_type in DocumentType.values else "",
        "search": (params.get("q") or "").strip()[:100],
        "drift": "changed" if params.get("drift") == "changed" else "",
        "notices": notices,
    }


def _announce(request, f) -> None:
    for notice in f["notices"]:
        messages.warning(request, notice)


def _query(f: dict, **extra) -> str:
    params = {"from": f["date_from"].isoformat(), "to": f["date_to"].isoformat()}
    for key, name in (("state", "state"), ("doc_type", "type"), ("search", "q"), ("drift", "drift")):
        if f.get(key):
            params[name] = f[key]
    params.update({k: v for k, v in extra.items() if v})
    return urlencode(params)


def _back(request, f, **extra):
    return redirect(f"{reverse('exports_page', args=[request.organisation.slug])}?{_query(f, **extra)}")


def _remembered_range(request):
    """The page's GET parameters, with the date range this user last chose for this
    organisation (kept in the session) when the address names none."""
    key = f"exports.range.{request.organisation.pk}"
    params = request.GET
    if "from" in params or "to" in params:
        return params
    saved = request.session.get(key)
    if isinstance(saved, list) and len(saved) == 2:
        params = params.copy()
        params["from"], params["to"] = str(saved[0])[:20], str(saved[1])[:20]
    return params


@organisation_view(Action.VIEW)
@require_GET
def exports_page(request):
    organisation = request.organisation
    svc.ledger_sync_missing(organisation=organisation)
    f = _filters(_remembered_range(request))
    if "from" in request.GET or "to" in request.GET:
        # The range as shown (dates swapped, defaults for what was not a date), so a notice
        # about a mistyped range is given once, not on every later visit.
        request.session[f"exports.range.{organisation.pk}"] = [f["date_from"].isoformat(), f["date_to"].isoformat()]
    _announce(request, f)
    pages = {t: request.GET.get(f"page_{t}") for t in DocumentType.values}
    data = sel.export_page(organisation=organisation, date_from=f["date_from"], date_to=f["date_to"],
                           state=f["state"], search=f["search"], doc_type=f["doc_type"], pages=pages,
                           drift=f["drift"])
    job = None
    job_id = request.GET.get("job")
    if parse_id(job_id):
        job = BulkJob.objects.filter(organisation=organisation, pk=parse_id(job_id)).first()
    job = job or sel.latest_job(organisation=organisation)
    progress = sel.job_progress(job) if job else None
    waiting = data["totals"].get(ExportState.WAITING_FOR_CONNECTION, 0)
    can_reexport = can(request, Action.REEXPORT)
    admin_names = roles.admin_names(organisation) if waiting or not can_reexport else []
    is_admin = can(request, Action.RECONNECT)
    fix = "connect" if data["status"].code == words.NOT_CONNECTED else "reconnect"
    return render(request, "xero_connect/exports/page.html", {
        **data, "organisation": organisation, "f": f, "query": _query(f), "job": job, "progress": progress,
        "waiting": waiting, "states": sel.STATE_ORDER, "doc_types": DocumentType.choices,
        "can_export": can(request, Action.EXPORT), "can_reexport": can_reexport,
        "can_import": can(request, Action.IMPORT_DOCUMENTS),
        # Whom to ask: shown to members where admin-only buttons would be, and when items wait.
        "admin_names": admin_names, "is_admin": is_admin, "fix_action": fix,
        "fix_button": words.button_for(fix),
        "fix_step": words.next_step(fix, is_admin=is_admin, admin_names=admin_names),
        "reexport_ask": words.admin_only("re-export documents already in Xero", admin_names=admin_names),
        "waiting_reason": words.waiting_reason(data["status"].code),
        "drift_filter": words.DRIFT_FILTER, "drift_filter_hint": words.DRIFT_FILTER_HINT,
        "needs_mapping": data["totals"].get(ExportState.NEEDS_MAPPING, 0),
        "needs_mapping_step": words.needs_mapping_step(is_admin=can(request, Action.MAP),
                                                       admin_names=roles.admin_names(organisation)
                                                       if not can(request, Action.MAP) else ()),
    })


@organisation_view(Action.EXPORT)
@require_POST
def exports_action(request):
    """Export one, Export selected, Export everything not yet exported in this range, Retry failed."""
    organisation, actor = request.organisation, request.user
    f = _filters(request.POST)
    _announce(request, f)
    one = request.POST.get("export_one")
    action = request.POST.get("action", "")
    if one:
        record = access_export_record(actor=actor, organisation=organisation, record_id=_int(one))
        if record.state == ExportState.EXPORTED:
            messages.info(request, f"{record.document} is already in Xero. Use Re-export to update it there.")
            return _back(request, f)
        job = svc.exports_enqueue_selected(organisation=organisation, actor=actor, record_ids=[record.pk])
        messages.success(request, f"{record.document} is on its way to Xero.")
        return _back(request, f, job=job.pk)
    if action == "selected":
        ids = [_int(i) for i in request.POST.getlist("records") if _int(i)]
        if not ids:
            messages.warning(request, "Select at least one item first.")
            return _back(request, f)
        already = ExportRecord.objects.filter(organisation=organisation, pk__in=ids,
                                              state=ExportState.EXPORTED).count()
        job = svc.exports_enqueue_selected(organisation=organisation, actor=actor, record_ids=ids)
        note = f" {already} already in Xero were left alone (use Re-export to update them)." if already else ""
        messages.success(request, f"{job.total} item(s) queued for export.{note}")
        return _back(request, f, job=job.pk)
    if action == "range":
        job = svc.exports_enqueue_range(organisation=organisation, actor=actor, date_from=f["date_from"],
                                        date_to=f["date_to"], doc_types=[f["doc_type"]] if f["doc_type"] else None)
        messages.success(request, f"{job.total} item(s) not yet exported between {f['date_from']:%-d %b %Y} and "
                                  f"{f['date_to']:%-d %b %Y} queued for export." if job.total else
                         "Nothing to export: everything in this range is already in Xero, queued, or failed "
                         "(use Retry failed).")
        return _back(request, f, job=job.pk)
    if action == "retry_failed":
        job = svc.exports_retry_failed(organisation=organisation, actor=actor, date_from=f["date_from"],
                                       date_to=f["date_to"])
        messages.success(request, f"{job.total} failed item(s) queued again." if job.total
                         else "No failed items in this range.")
        return _back(request, f, job=job.pk)
    messages.warning(request, "Unknown action.")
    return _back(request, f)


def _int(value):
    return parse_id(value)


@organisation_view(Action.REEXPORT)
@require_POST
def exports_reexport(request):
    """Re-export items already in Xero: first a page that says what will happen per type, then
    (confirm) the job. Never creates a duplicate: documents are updated by their Xero id, or
    skipped where Xero does not allow updates."""
    organisation, actor = request.organisation, request.user
    f = _filters(request.POST)
    _announce(request, f)
    scope = request.POST.get("scope", "selected")
    if scope == "range":
        ids = list(sel.ledger_queryset(organisation=organisation, date_from=f["date_from"], date_to=f["date_to"],
                                       doc_types=[f["doc_type"]] if f["doc_type"] else None)
                   .filter(state=ExportState.EXPORTED).values_list("pk", flat=True))
    else:
        ids = [i for i in (_int(v) for v in request.POST.getlist("records")) if i]
        ids = list(ExportRecord.objects.filter(organisation=organisation, pk__in=ids).values_list("pk", flat=True))
    preview = sel.reexport_preview(organisation=organisation, record_ids=ids)
    elsewhere = sel.reexport_elsewhere(organisation=organisation, record_ids=ids)
    if elsewhere:
        messages.warning(request, f"{elsewhere} item(s) are in the Xero organisation this organisation was linked to "
                                  f"before. They stay there and are not re-exported: the Xero organisation linked "
                                  f"now does not have them.")
    if not preview:
        if not elsewhere:
            messages.info(request, "None of these items are in Xero yet, so there is nothing to re-export. Use Export.")
        return _back(request, f)
    if request.POST.get("confirm") != "yes":
        return render(request, "xero_connect/exports/reexport_confirm.html", {
            "organisation": organisation, "preview": preview, "ids": ids, "f": f, "scope": scope,
            "total": sum(p["n"] for p in preview)})
    job = svc.exports_enqueue_selected(organisation=organisation, actor=actor, record_ids=ids, update_existing=True)
    messages.success(request, f"Re-export started: {job.total} item(s) will be updated in Xero"
                              + (f", {job.skipped} skipped (Xero does not allow updating them)." if job.skipped else "."))
    return _back(request, f, job=job.pk)


@organisation_view(Action.VIEW)
@require_GET
def exports_job_progress(request, job_id: int):
    job = access_export_job(actor=request.user, organisation=request.organisation, job_id=job_id)
    return JsonResponse(sel.job_progress(job))


@organisation_view(Action.VIEW)
@require_GET
def exports_record(request, record_id: int):
    record = access_export_record(
        actor=request.user, organisation=request.organisation, record_id=record_id,
        queryset=ExportRecord.objects.select_related("document", "connection", "exported_by", "queued_by",
                                                     "document__paid_document__export_record"))
    return render(request, "xero_connect/exports/record.html", {
        "organisation": request.organisation, "record": record, "link": sel.record_link(record),
        "attempts": record.attempts.select_related("actor")[:50], "lines": record.document.lines.all(),
        "can_export": can(request, Action.EXPORT), **_drift_context(request, record)})


def _drift_context(request, record) -> dict:
    """What the record page shows and offers about the document's state in Xero (#16)."""
    flagged = record.xero_drift in FLAGGED_DRIFT and record.state == ExportState.EXPORTED
    can_resolve = can(request, Action.RESOLVE_DRIFT)
    return {
        "drift_name": words.drift_name(record.xero_drift),
        "drift_detail": words.drift_detail(drift=record.xero_drift, before=record.drift_total_before,
                                           after=record.drift_total_after, paid=record.xero_amount_paid,
                                           due=record.xero_amount_due),
        "drift_flagged": flagged, "can_resolve_drift": can_resolve,
        "can_reexport_new": flagged and record.xero_drift in (XeroDrift.VOIDED, XeroDrift.DELETED)
        and not record.replaced_by_id,
        "replaces": getattr(record, "replaces", None) if record.pk else None,
        "drift_ask": "" if can_resolve else words.admin_only("act on documents changed in Xero",
                                                            admin_names=roles.admin_names(request.organisation)),
        "accept_button": words.DRIFT_ACCEPT_BUTTON, "reexport_button": words.DRIFT_REEXPORT_BUTTON,
        "suggested_suffix": "-R1",
    }


@organisation_view(Action.RESOLVE_DRIFT)
@require_POST
def exports_drift_action(request, record_id: int):
    """Admin only, explicit: "accept" Xero's version, or "reexport" a voided/deleted document as
    a new one numbered with the confirmed `suffix`. Refusals come back as a message."""
    record = access_export_record(actor=request.user, organisation=request.organisation, record_id=record_id,
                                  queryset=ExportRecord.objects.select_related("document"))
    back = redirect(reverse("exports_record", args=[request.organisation.slug, record.pk]))
    action = request.POST.get("action", "")
    try:
        if action == "accept":
            drift.drift_accept(record=record, actor=request.user)
            messages.success(request, words.DRIFT_ACCEPTED)
        elif action == "reexport":
            new = drift.drift_reexport_as_new(record=record, suffix=request.POST.get("suffix", "")[:50],
                                              actor=request.user)
            messages.success(request, words.drift_reexported(new.document.number))
        else:
            messages.error(request, "Choose one of the two actions.")
    except drift.DriftActionRefused as exc:
        messages.error(request, str(exc))
    return back


@organisation_view(Action.IMPORT_DOCUMENTS)
@require_http_methods(["GET", "POST"])
def documents_import(request):
    organisation = request.organisation
    result = None
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            messages.warning(request, "Choose a CSV file first.")
        elif upload.size > MAX_UPLOAD_BYTES:
            messages.error(request, "That file is larger than 5 MB: split it and import the parts.")
        else:
            try:
                text = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                text = None
                messages.error(request, f"The file is not UTF-8 text. {words.SAVE_AS_CSV_UTF8}")
            if text is not None:
                result = documents_import_csv(organisation=organisation, actor=request.user, text=text)
                if result.ok:
                    messages.success(request, f"Imported {result.created} document(s) with {result.lines} line(s).")
                    return redirect("exports_page", org_slug=organisation.slug)
    return render(request, "xero_connect/exports/import.html", {
        "organisation": organisation, "result": result, "columns": COLUMNS})
