"""Bulk jobs across organisations (the bookkeeper portal and the built-in admin's actions).

One BulkJob (organisation=None) per bulk action: it names every selected organisation in
`results`, marks at start the ones the actor's role forbids as skipped (with who to ask), and
is then processed in the background, one organisation at a time, by calling the same services
an organisation's own pages call (lists, exports, connections). A failure in one organisation
never stops the others.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from .. import roles, task_queue
from .. import messages as words
from ..messages import message_for
from ..models import BulkJob, ExportRecord, ListRefresh, Membership, Organisation
from ..roles import Action
from ..selectors.connections import current_connection
from ..selectors.portal import admin_names_by_organisation
from ..xero import errors as xero_errors
from . import connections as connection_service
from . import diagnosis, drift
from . import exports as exports_service
from . import lists as lists_service

logger = logging.getLogger(__name__)

K = BulkJob.Kind


@dataclass(frozen=True)
class BulkAction:
    kind: str
    action: str  # roles.Action needed in each organisation
    label: str
    past: str  # what it did, for messages


BULK_ACTIONS: dict[str, BulkAction] = {
    K.REFRESH_LISTS: BulkAction(K.REFRESH_LISTS, Action.REFRESH_LISTS, "Refresh lists", "refreshed lists"),
    K.RETRY_FAILED: BulkAction(K.RETRY_FAILED, Action.EXPORT, "Retry failed exports", "queued failed exports again"),
    K.EXPORT_RANGE: BulkAction(K.EXPORT_RANGE, Action.EXPORT, "Export everything not yet exported in a date range",
                               "queued exports"),
    K.HEALTH_CHECK: BulkAction(K.HEALTH_CHECK, Action.DIAGNOSE, "Run a health check", "checked the connection"),
    K.RECONCILE: BulkAction(K.RECONCILE, Action.DIAGNOSE, words.RECONCILE_ACTION,
                            "checked exported documents in Xero"),
}

PENDING, DONE, PROBLEM, FAILED, SKIPPED = "pending", "done", "problem", "failed", "skipped"
OUTCOME_WORDS = {PENDING: "Waiting", DONE: "Done", PROBLEM: "Needs attention", FAILED: "Failed",
                 SKIPPED: "Skipped"}


class OrganisationsNotFound(Http404):
    """Some of the ids are not organisations the actor belongs to. Answered as 404."""


# --- starting jobs ------------------------------------------------------------------------

def _params_for(kind: str, params: dict | None) -> dict:
    params = dict(params or {})
    if kind == K.EXPORT_RANGE:
        date_from, date_to = params.get("date_from"), params.get("date_to")
        if not isinstance(date_from, date) or not isinstance(date_to, date):
            raise ValueError("Exporting a date range needs a start and an end date.")
        if date_from > date_to:
            raise ValueError("The start date is after the end date.")
        params["date_from"], params["date_to"] = date_from.isoformat(), date_to.isoformat()
        params["doc_types"] = list(params.get("doc_types") or [])
    return params


def _result(organisation: Organisation, outcome: str = PENDING, detail: str = "", role: str = "") -> dict:
    return {"organisation": organisation.pk, "name": organisation.name, "slug": organisation.slug, "role": role,
            "outcome": outcome, "detail": detail, "link": ""}


def _create_job(*, actor, kind: str, params: dict, results: list[dict]) -> BulkJob:
    skipped = sum(1 for r in results if r["outcome"] == SKIPPED)
    job = BulkJob.objects.create(
        organisation=None, actor=actor, kind=kind, params=params, total=len(results), skipped=skipped,
        results=results, status=BulkJob.Status.QUEUED if skipped < len(results) else BulkJob.Status.DONE,
        finished_at=None if skipped < len(results) else timezone.now(),
        summary="" if skipped < len(results) else _summary(kind, results),
    )
    logger.info("portal.bulk.created job=%s kind=%s total=%s skipped=%s actor=%s", job.pk, kind, job.total,
                skipped, getattr(actor, "pk", None))
    if job.status == BulkJob.Status.QUEUED:
        _enqueue(job)
    return job


def _enqueue(job: BulkJob) -> None:
    task_queue.enqueue_on_commit(task_queue.PORTAL_BULK_JOB_RUN, job.pk, task_name=f"bulk-job-{job.pk}")


@transaction.atomic
def portal_bulk_start(*, actor, organisation_ids, kind: str, params: dict | None = None) -> BulkJob:
    """Start one bulk action over organisations the actor belongs to.

    Ids of organisations the actor does not belong to are refused as a whole (404: the portal never
    offers them, so they come from a tampered form). Organisations where the actor's role does not
    allow the action are kept in the job as skipped, saying why and whom to ask.
    """
    if kind not in BULK_ACTIONS:
        raise ValueError(f"Unknown bulk action {kind!r}.")
    bulk = BULK_ACTIONS[kind]
    params = _params_for(kind, params)
    wanted = []
    for raw in organisation_ids:
        try:
            pk = int(raw)
        except (TypeError, ValueError):
            raise OrganisationsNotFound("No such organisation.") from None
        if pk not in wanted:
            wanted.append(pk)
    if not wanted:
        raise ValueError("Select at least one organisation.")
    if not getattr(actor, "is_authenticated", False):
        raise OrganisationsNotFound("No such organisation.")
    memberships = {m.organisation_id: m for m in Membership.objects.filter(user=actor, organisation_id__in=wanted)
                   .select_related("organisation")}
    if len(memberships) != len(wanted):
        logger.warning("portal.bulk.foreign_ids actor=%s ids=%s", actor.pk,
                       sorted(set(wanted) - set(memberships)))
        raise OrganisationsNotFound("No such organisation.")
    ordered = sorted(memberships.values(), key=lambda m: (m.organisation.name.lower(), m.organisation_id))
    forbidden = [m for m in ordered
                 if not roles.can(user=actor, organisation=m.organisation, action=bulk.action, role=m.role)]
    names = admin_names_by_organisation([m.organisation_id for m in forbidden]) if forbidden else {}
    results = []
    for m in ordered:
        if m in forbidden:
            detail = (f"Skipped: you are {words.role_phrase(m.role)} of {m.organisation.name}. "
                      + words.admin_only(Action(bulk.action).label, admin_names=names.get(m.organisation_id, [])))
            results.append(_result(m.organisation, SKIPPED, detail, role=m.role))
        else:
            results.append(_result(m.organisation, role=m.role))
    return _create_job(actor=actor, kind=kind, params=params, results=results)


@transaction.atomic
def staff_bulk_start(*, actor, organisations, kind: str, params: dict | None = None) -> BulkJob:
    """The built-in admin's door to the same jobs: platform staff act on any organisation."""
    if not (actor.is_active and actor.is_staff):
        raise PermissionDenied("Only platform staff can act on any organisation.")
    if kind not in BULK_ACTIONS:
        raise ValueError(f"Unknown bulk action {kind!r}.")
    params = {**_params_for(kind, params), "by_staff": True}
    unique = {o.pk: o for o in organisations}
    results = [_result(o, role="staff") for o in sorted(unique.values(), key=lambda o: (o.name.lower(), o.pk))]
    if not results:
        raise ValueError("Select at least one organisation.")
    return _create_job(actor=actor, kind=kind, params=params, results=results)


# --- running jobs -------------------------------------------------------------------------

def _lists_link(organisation) -> str:
    return reverse("lists_index", args=[organisation.slug])


def _exports_link(organisation) -> str:
    return reverse("exports_page", args=[organisation.slug])


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _run_refresh_lists(job: BulkJob, organisation: Organisation) -> tuple[str, str, str]:
    refresh = lists_service.lists_refresh_enqueue(organisation=organisation, actor=job.actor,
                                                  trigger=ListRefresh.Trigger.BULK)
    refresh.refresh_from_db()
    if refresh.status == ListRefresh.Status.FAILED:
        return PROBLEM, "The lists refresh failed; open Lists for the reason.", _lists_link(organisation)
    if refresh.status == ListRefresh.Status.PARTIAL:
        return PROBLEM, "Some lists could not be refreshed; open Lists for the reason.", _lists_link(organisation)
    if refresh.status == ListRefresh.Status.DONE:
        return DONE, "Lists refreshed.", _lists_link(organisation)
    return DONE, "Lists refresh started.", _lists_link(organisation)


def _run_retry_failed(job: BulkJob, organisation: Organisation) -> tuple[str, str, str]:
    n = exports_service.exports_retry_failed(organisation=organisation, actor=job.actor).total
    detail = f"{_plural(n, 'failed export')} queued again." if n else "No failed exports to retry."
    return DONE, detail, _exports_link(organisation)


def _run_export_range(job: BulkJob, organisation: Organisation) -> tuple[str, str, str]:
    params = job.params
    n = exports_service.exports_enqueue_range(
        organisation=organisation, actor=job.actor, date_from=date.fromisoformat(params["date_from"]),
        date_to=date.fromisoformat(params["date_to"]), doc_types=params.get("doc_types") or None).total
    detail = (f"{_plural(n, 'document')} queued for export." if n
              else "Nothing to export: everything in that range is already exported.")
    return DONE, detail, _exports_link(organisation)


def _run_health_check(job: BulkJob, organisation: Organisation) -> tuple[str, str, str]:
    found = diagnosis.connection_health_check(organisation=organisation, actor=job.actor)
    words, explanation, next_step, healthy = found.title, found.words, found.next_step, found.working
    detail = words if words.endswith(".") else f"{words}."
    if not healthy:
        if explanation and explanation != words:
            detail = f"{detail} {explanation}"
        if next_step:
            detail = f"{detail} Next step: {next_step}"
    return (DONE if healthy else PROBLEM), detail, reverse("organisation_home", args=[organisation.slug])


def _run_reconcile(job: BulkJob, organisation: Organisation) -> tuple[str, str, str]:
    """One reconciliation run (#16): documents changed in Xero since the last one."""

    run = drift.reconcile_organisation(organisation=organisation, trigger="portal")
    if not run.ok:
        return PROBLEM, run.detail or "Xero could not be asked; try again later.", _exports_link(organisation)
    return DONE, (f"{_plural(run.seen, 'document')} changed in Xero since the last check, "
                  f"{run.changed} newly flagged ({_plural(run.calls, 'call')})."), _exports_link(organisation)


RUNNERS = {
    K.RECONCILE: _run_reconcile,
    K.REFRESH_LISTS: _run_refresh_lists,
    K.RETRY_FAILED: _run_retry_failed,
    K.EXPORT_RANGE: _run_export_range,
    K.HEALTH_CHECK: _run_health_check,
}


def _summary(kind: str, results: list[dict]) -> str:
    counts = {}
    for r in results:
        counts[r["outcome"]] = counts.get(r["outcome"], 0) + 1
    parts = [f"{BULK_ACTIONS[kind].label}: {_plural(len(results), 'organisation')}"]
    for outcome in (DONE, PROBLEM, FAILED, SKIPPED):
        n = counts.get(outcome)
        if n:
            words = OUTCOME_WORDS[outcome].lower()
            parts.append(f"{n} {'need attention' if outcome == PROBLEM and n > 1 else words}")
    return ", ".join(parts) + "."


def _failure_words(error: Exception) -> str:
    if isinstance(error, xero_errors.XeroError):
        message = message_for(error)
        return f"{message.title}. {message.next_step}"
    return "Something went wrong; the error is in the log. Try again in a moment."


def portal_bulk_run(*, job_id: int, save_every_seconds: float = 1.0) -> BulkJob:
    """Process a bulk job's pending organisations in order. Safe to run again (resumes)."""
    with transaction.atomic():
        job = BulkJob.objects.select_for_update(of=("self",)).select_related("actor").get(pk=job_id)
        if job.status in (BulkJob.Status.DONE, BulkJob.Status.FAILED):
            return job
        job.status = BulkJob.Status.RUNNING
        job.started_at = job.started_at or timezone.now()
        job.save(update_fields=["status", "started_at"])
    runner = RUNNERS[job.kind]
    pending = [r["organisation"] for r in job.results if r["outcome"] == PENDING]
    organisations = Organisation.objects.in_bulk(pending)
    last_save = time.monotonic()
    for index, result in enumerate(job.results):
        if result["outcome"] != PENDING:
            continue
        organisation = organisations.get(result["organisation"])
        refused = _no_longer_allowed(job, organisation) if organisation is not None else None
        if organisation is None:
            result.update(outcome=SKIPPED, detail="The organisation no longer exists.")
        elif refused:
            logger.info("portal.bulk.no_longer_allowed job=%s organisation=%s", job.pk, organisation.pk)
            result.update(outcome=SKIPPED, detail=refused)
        else:
            try:
                outcome, detail, link = runner(job, organisation)
                result.update(outcome=outcome, detail=detail, link=link)
            except Exception as error:  # one organisation's failure never stops the others
                logger.warning("portal.bulk.organisation_failed job=%s organisation=%s error=%s", job.pk,
                               organisation.pk, type(error).__name__, exc_info=not _is_xero_error(error))
                result.update(outcome=FAILED, detail=_failure_words(error))
        _count(job)
        now = time.monotonic()
        if now - last_save >= save_every_seconds or index == len(job.results) - 1:
            job.save(update_fields=["results", "done", "failed", "skipped", "waiting"])
            last_save = now
    _count(job)
    job.status = BulkJob.Status.DONE
    job.finished_at = timezone.now()
    job.summary = _summary(job.kind, job.results)
    job.save(update_fields=["results", "done", "failed", "skipped", "waiting", "status", "finished_at", "summary"])
    logger.info("portal.bulk.finished job=%s done=%s failed=%s skipped=%s", job.pk, job.done, job.failed,
                job.skipped)
    return job


def _no_longer_allowed(job: BulkJob, organisation: Organisation) -> str | None:
    """Checked again when the organisation's part runs, not only when the job was started: the
    person may have left the organisation, lost the role, or lost their account since. Returns
    why the part is skipped, or None when it may run. Two queries at most."""
    bulk = BULK_ACTIONS[job.kind]
    actor = job.actor
    if actor is None or not actor.is_active:
        return "Skipped: the person who started this job can no longer sign in."
    if (job.params or {}).get("by_staff"):
        return None if actor.is_staff else "Skipped: the person who started this job is no longer platform staff."
    membership = Membership.objects.filter(user=actor, organisation=organisation).first()
    if membership is None:
        return f"Skipped: you are no longer a member of {organisation.name}."
    if not roles.can(user=actor, organisation=organisation, action=bulk.action, role=membership.role):
        admins = " or ".join(admin_names_by_organisation([organisation.pk]).get(organisation.pk, [])) or \
            "your support team"
        return (f"Skipped: you are now {membership.get_role_display()} of {organisation.name}, and only an Admin "
                f"can {Action(bulk.action).label}. Ask {admins}.")
    return None


def _is_xero_error(error: Exception) -> bool:
    return isinstance(error, xero_errors.XeroError)


def _count(job: BulkJob) -> None:
    """Counters from results: done (incl. 'needs attention'), failed, skipped."""
    job.done = sum(1 for r in job.results if r["outcome"] in (DONE, PROBLEM))
    job.failed = sum(1 for r in job.results if r["outcome"] == FAILED)
    job.skipped = sum(1 for r in job.results if r["outcome"] == SKIPPED)
    job.waiting = sum(1 for r in job.results if r["outcome"] == PROBLEM)


# --- admin actions that are not jobs ------------------------------------------------------

def organisations_disconnect(*, organisations, actor) -> list[tuple[Organisation, str, str]]:
    """Disconnect Xero for each organisation (staff, from the admin). Each disconnect is audited by
    the connection service as a ConnectionEvent with actor. Returns (organisation, outcome, words)."""
    if not (actor.is_active and actor.is_staff):
        raise PermissionDenied("Only platform staff can disconnect any organisation.")
    out = []
    for organisation in organisations:
        if current_connection(organisation=organisation) is None:
            out.append((organisation, SKIPPED, "was not connected"))
            continue
        try:
            connection_service.connection_disconnect(organisation=organisation, actor=actor, as_staff=True)
            out.append((organisation, DONE, "disconnected"))
        except Exception as error:
            logger.warning("portal.admin.disconnect_failed organisation=%s error=%s", organisation.pk,
                           type(error).__name__, exc_info=not _is_xero_error(error))
            out.append((organisation, FAILED, _failure_words(error)))
    return out


def documents_export_selected(*, documents, actor) -> list[BulkJob]:
    """Queue the chosen documents for export (staff, from the admin): one BulkJob per organisation,
    with actor, so the admin action is audited like an export from the Export Data page."""
    if not (actor.is_active and actor.is_staff):
        raise PermissionDenied("Only platform staff can export for any organisation.")
    by_org: dict[int, list[int]] = {}
    orgs: dict[int, Organisation] = {}
    for document in documents:
        by_org.setdefault(document.organisation_id, []).append(document.pk)
        orgs[document.organisation_id] = document.organisation
    jobs = []
    for organisation_id, document_ids in by_org.items():
        organisation = orgs[organisation_id]
        with transaction.atomic():
            exports_service.ledger_sync(organisation=organisation)
            records = list(ExportRecord.objects.filter(organisation=organisation, document_id__in=document_ids))
            job = BulkJob.objects.create(organisation=organisation, actor=actor, kind=K.EXPORT_SELECTED,
                                         params={"document_ids": document_ids, "by_staff": True})
            queued = exports_service.exports_enqueue(records=records, actor=actor, job=job)
            job.refresh_from_db()
            if not job.summary:
                job.summary = f"{_plural(int(queued or 0), 'document')} queued for export from the admin."
                job.save(update_fields=["summary"])
            job.queued_count = int(queued or 0)
        jobs.append(job)
    return jobs
