"""Look-ups of tenant data, always inside organisations the actor belongs to.

One style for every object a person can reach by id (after Zulip's `access_stream_by_id`):
`access_<thing>(actor=, organisation=, <thing>_id=)` returns the object or raises Http404 —
the same for "does not exist", "belongs to another organisation" and "you are not a member
there", so a user of one organisation never learns that another organisation's object exists.
Ids come from URLs and forms: anything that is not a whole number is simply not found.
"""
from django.http import Http404

from ..models import BulkJob, ExportRecord, ListRefresh, Membership, Organisation, PendingAuthorisation

NOT_FOUND = "Not found in this organisation."


def membership_for(*, user, organisation_slug: str) -> Membership:
    if not getattr(user, "is_authenticated", False):
        raise Http404("No such organisation.")
    membership = (
        Membership.objects.select_related("organisation")
        .filter(user=user, organisation__slug=organisation_slug)
        .first()
    )
    if membership is None:
        raise Http404("No such organisation.")
    return membership


def organisations_for(*, user):
    if not getattr(user, "is_authenticated", False):
        return Organisation.objects.none()
    return Organisation.objects.filter(memberships__user=user)


def _pk(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Http404(NOT_FOUND) from None


def _access(queryset, *, actor, organisation: Organisation, pk, **lookup):
    if not getattr(actor, "is_authenticated", False) or not Membership.objects.filter(
            user=actor, organisation=organisation).exists():
        raise Http404(NOT_FOUND)
    found = queryset.filter(organisation=organisation, pk=_pk(pk), **lookup).first()
    if found is None:
        raise Http404(NOT_FOUND)
    return found


def access_export_record(*, actor, organisation: Organisation, record_id, queryset=None) -> ExportRecord:
    """An export record (ledger row) of the organisation. `queryset` may add select_related."""
    return _access(queryset if queryset is not None else ExportRecord.objects.all(), actor=actor,
                   organisation=organisation, pk=record_id)


def access_list_refresh(*, actor, organisation: Organisation, refresh_id) -> ListRefresh:
    """A Refresh lists run of the organisation (whoever started it)."""
    return _access(ListRefresh.objects.select_related("actor"), actor=actor, organisation=organisation,
                   pk=refresh_id)


def access_export_job(*, actor, organisation: Organisation, job_id) -> BulkJob:
    """A bulk export job of the organisation (whoever started it)."""
    return _access(BulkJob.objects.all(), actor=actor, organisation=organisation, pk=job_id)


def access_pending_authorisation(*, actor, organisation: Organisation, pending_id) -> PendingAuthorisation:
    """A sign-in to Xero waiting for its organisation to be chosen and confirmed: only the
    person who signed in may see or finish it."""
    return _access(PendingAuthorisation.objects.all(), actor=actor, organisation=organisation, pk=pending_id,
                   user=actor)


def access_portal_job(*, actor, job_id) -> BulkJob:
    """A portal job (across organisations): visible to the person who started it only."""
    job = BulkJob.objects.filter(pk=_pk(job_id), organisation=None, actor=actor).first() \
        if getattr(actor, "is_authenticated", False) else None
    if job is None:
        raise Http404("No such job.")
    return job
