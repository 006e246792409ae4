"""access_<thing>(actor=, organisation=, id): the object, or 404 — the same answer for "missing",
"another organisation's" and "not your organisation"."""
import pytest
from django.http import Http404

from tests import factories
from xero_connect.models import BulkJob, ListRefresh
from xero_connect.selectors.access import access_export_job, access_list_refresh, access_portal_job


@pytest.fixture
def refreshes(org, other_org, admin_user):
    return (ListRefresh.objects.create(organisation=org, actor=admin_user),
            ListRefresh.objects.create(organisation=other_org))


def test_a_member_reaches_the_organisations_own_object(refreshes, org, member_user):
    mine, _ = refreshes
    assert access_list_refresh(actor=member_user, organisation=org, refresh_id=mine.pk) == mine
    assert access_list_refresh(actor=member_user, organisation=org, refresh_id=str(mine.pk)) == mine


@pytest.mark.parametrize("case", ["other_organisations", "missing", "garbage", "not_a_member"])
def test_everything_else_is_not_found_alike(refreshes, org, other_org, member_user, outsider, case):
    mine, theirs = refreshes
    actor, organisation, refresh_id = {
        "other_organisations": (member_user, org, theirs.pk),
        "missing": (member_user, org, theirs.pk + 1000),
        "garbage": (member_user, org, "1 OR 1=1"),
        "not_a_member": (outsider, org, mine.pk),
    }[case]
    with pytest.raises(Http404) as found:
        access_list_refresh(actor=actor, organisation=organisation, refresh_id=refresh_id)
    assert str(found.value) == "Not found in this organisation."


def test_jobs_organisation_and_portal(org, other_org, admin_user, outsider):
    job = BulkJob.objects.create(organisation=org, actor=admin_user, kind=BulkJob.Kind.EXPORT_SELECTED)
    portal = BulkJob.objects.create(organisation=None, actor=admin_user, kind=BulkJob.Kind.HEALTH_CHECK)
    assert access_export_job(actor=admin_user, organisation=org, job_id=job.pk) == job
    with pytest.raises(Http404):
        access_export_job(actor=admin_user, organisation=org, job_id=portal.pk)
    assert access_portal_job(actor=admin_user, job_id=portal.pk) == portal
    with pytest.raises(Http404):
        access_portal_job(actor=outsider, job_id=portal.pk)
    factories.add_member(other_org, admin_user)
    with pytest.raises(Http404):
        access_export_job(actor=admin_user, organisation=other_org, job_id=job.pk)
