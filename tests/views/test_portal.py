import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests import factories
from tests.selectors.test_portal_fixtures import bulk_organisations
from xero_connect.models import BulkJob, Role

PORTAL = "/portal/"


@pytest.fixture
def bea(db):
    return factories.make_user("bea", first_name="Bea", last_name="Bookkeeper")


@pytest.fixture
def hamish(db):
    return factories.make_user("hamish", first_name="Hamish", last_name="Harbour")


@pytest.fixture
def bea_client(client, bea):
    client.force_login(bea)
    return client


def test_anonymous_is_sent_to_login(client, db):
    response = client.get(PORTAL)
    assert response.status_code == 302 and reverse("login") in response["Location"]
    assert client.post(reverse("portal_bulk"), {"kind": "health_check"}).status_code == 302
    assert reverse("portal") == PORTAL


def test_page_shows_each_organisation_with_status_role_and_next_step(bea_client, bea, hamish):
    bulk_organisations(bea, 5, admin=hamish)
    html = bea_client.get(PORTAL).content.decode()
    assert "Client 0000 (Xero)" in html  # linked Xero organisation
    assert 'data-org="client-0002" data-status="needs_reconnect"' in html
    assert "status-warn" in html and "Needs reconnect" in html
    assert "Not connected to Xero" in html and "Removed in Xero" in html
    # Next steps: bea is Admin of 0002 (reconnect button), Member of 0003 (ask Hamish).
    attention = html.split('id="needs-attention"')[1].split("</section>")[0]
    assert reverse("connection_start", args=["client-0002"]) in attention
    assert "Ask Hamish Harbour (an Admin) to connect Xero." in attention
    assert reverse("connection_start", args=["client-0003"]) not in attention
    assert "<svg class=\"activity\"" in html and "1 exported, 1 failed" in html
    assert 'data-counts="2/1/1"' in html  # queued (incl. exporting) / waiting for connection / failed


def _rows(html):
    """(slug, status) of the main table's rows (not the switcher, not the attention queue)."""
    return re.findall(r'<tr data-org="([\w-]+)" data-status="(\w+)"', html)


def test_search_filter_and_pagination(bea_client, bea, hamish):
    bulk_organisations(bea, 30, admin=hamish)
    assert _rows(bea_client.get(PORTAL, {"q": "0017"}).content.decode()) == [("client-0017", "needs_reconnect")]
    rows = _rows(bea_client.get(PORTAL, {"status": "removed_in_xero"}).content.decode())
    assert len(rows) == 6 and {s for _, s in rows} == {"removed_in_xero"}
    rows = _rows(bea_client.get(PORTAL, {"role": "member"}).content.decode())
    assert [slug for slug, _ in rows] == [f"client-{i:04d}" for i in range(1, 30, 2)]
    page2 = bea_client.get(PORTAL, {"per_page": "25", "page": "2"}).content.decode()
    assert "Page 2 of 2" in page2 and [s for s, _ in _rows(page2)] == [f"client-{i:04d}" for i in range(25, 30)]


def test_portal_page_query_count_does_not_grow(bea_client, bea, hamish):
    bulk_organisations(bea, 10, admin=hamish)
    with CaptureQueriesContext(connection) as small:
        assert bea_client.get(PORTAL, {"per_page": "200"}).status_code == 200
    bulk_organisations(bea, 490, start=10, admin=hamish)
    with CaptureQueriesContext(connection) as large:
        response = bea_client.get(PORTAL, {"per_page": "200"})
    assert response.content.decode().count('class="org-check"') == 200
    assert len(small.captured_queries) == len(large.captured_queries), (
        len(small.captured_queries), len(large.captured_queries))
    print(f"\nportal queries: 10 organisations={len(small.captured_queries)} "
          f"500 organisations={len(large.captured_queries)}")


def test_outsider_does_not_see_others(client, outsider, bea, hamish):
    bulk_organisations(bea, 3, admin=hamish)
    client.force_login(outsider)
    html = client.get(PORTAL).content.decode()
    assert _rows(html) == [("other", "not_connected")] and "Client 0000" not in html


# --- bulk actions ---------------------------------------------------------------------------

def _ids(orgs):
    return [str(o.pk) for o in orgs]


def test_bulk_health_check_runs_per_organisation(bea_client, bea, hamish, monkeypatch,
                                                 django_capture_on_commit_callbacks):
    from xero_connect.services import diagnosis

    orgs = bulk_organisations(bea, 3, admin=hamish)
    seen = []

    def fake_check(*, organisation, actor=None):
        seen.append((organisation.slug, actor))
        working = organisation.slug != "client-0002"
        return diagnosis.Diagnosis(
            "working" if working else "needs_reconnect", title="Xero answers" if working else "Xero refuses the sign-in",
            words="All checks passed." if working else "The sign-in expired.", next_step="Reconnect.",
            action="none" if working else "reconnect", severity="ok" if working else "bad")

    monkeypatch.setattr(diagnosis, "connection_health_check", fake_check)
    with django_capture_on_commit_callbacks(execute=True):
        response = bea_client.post(reverse("portal_bulk"), {"kind": "health_check", "organisations": _ids(orgs)})
    job = BulkJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("portal_job", args=[job.pk])
    assert job.organisation is None and job.actor == bea and job.kind == "health_check"
    assert job.status == "done" and job.total == 3 and job.done == 3 and job.percent == 100
    assert sorted(s for s, _ in seen) == ["client-0000", "client-0001", "client-0002"]
    assert all(a == bea for _, a in seen)
    outcomes = {r["name"]: (r["outcome"], r["detail"]) for r in job.results}
    assert outcomes["Client 0002"] == ("problem", "Xero refuses the sign-in. The sign-in expired. Next step: Reconnect.")
    assert outcomes["Client 0000"] == ("done", "Xero answers.")
    page = bea_client.get(reverse("portal_job", args=[job.pk])).content.decode()
    assert "Xero refuses the sign-in." in page and 'aria-valuenow="100"' in page
    progress = bea_client.get(reverse("portal_job_progress", args=[job.pk])).json()
    assert progress["finished"] and progress["percent"] == 100 and len(progress["results"]) == 3


def test_bulk_refresh_lists_calls_the_lists_service(bea_client, bea, hamish, django_capture_on_commit_callbacks):
    from xero_connect.models import ListRefresh

    orgs = bulk_organisations(bea, 2, admin=hamish)
    with django_capture_on_commit_callbacks(execute=True):
        bea_client.post(reverse("portal_bulk"), {"kind": "refresh_lists", "organisations": _ids(orgs)})
    job = BulkJob.objects.get(organisation=None)
    assert job.status == "done" and job.failed == 0
    refreshes = ListRefresh.objects.filter(trigger=ListRefresh.Trigger.BULK)
    assert sorted(r.organisation.slug for r in refreshes) == ["client-0000", "client-0001"]
    assert all(r.actor == bea for r in refreshes)


def test_bulk_skips_organisations_where_role_forbids_with_reason(bea_client, bea, hamish, monkeypatch,
                                                                 django_capture_on_commit_callbacks):
    """Should roles make refreshing lists admin-only, a Member's organisations are skipped, saying
    why and whom to ask, while the Admin's ones go ahead."""
    from xero_connect import roles
    from xero_connect.roles import Action

    monkeypatch.setitem(roles.PERMISSIONS, Role.MEMBER, roles.PERMISSIONS[Role.MEMBER] - {Action.REFRESH_LISTS})
    orgs = bulk_organisations(bea, 2, admin=hamish)  # Admin of 0000, Member of 0001
    with django_capture_on_commit_callbacks(execute=True):
        bea_client.post(reverse("portal_bulk"), {"kind": "refresh_lists", "organisations": _ids(orgs)})
    job = BulkJob.objects.get(organisation=None)
    results = {r["name"]: r for r in job.results}
    assert results["Client 0000"]["outcome"] == "done"
    assert results["Client 0001"]["outcome"] == "skipped"
    assert results["Client 0001"]["detail"] == (
        "Skipped: you are a Member of Client 0001. Only an Admin can refresh lists. Ask Hamish Harbour.")
    assert job.skipped == 1 and job.done == 1
    from xero_connect.models import ListRefresh
    assert list(ListRefresh.objects.values_list("organisation__slug", flat=True)) == ["client-0000"]


def test_member_may_run_member_actions_everywhere(bea_client, bea, hamish, monkeypatch,
                                                  django_capture_on_commit_callbacks):
    """Retry failed exports is allowed to Members (roles.PERMISSIONS): nothing is skipped."""
    from xero_connect.services import exports as export_service

    calls = []
    monkeypatch.setattr(export_service, "exports_retry_failed",
                        lambda *, organisation, actor, job=None: calls.append(organisation.slug) or BulkJob(total=1))
    orgs = bulk_organisations(bea, 2, admin=hamish)
    with django_capture_on_commit_callbacks(execute=True):
        bea_client.post(reverse("portal_bulk"), {"kind": "retry_failed", "organisations": _ids(orgs)})
    job = BulkJob.objects.get(organisation=None)
    assert job.skipped == 0 and sorted(calls) == ["client-0000", "client-0001"]
    assert [r["detail"] for r in job.results] == ["1 failed export queued again."] * 2


def test_bulk_export_range_passes_dates_and_needs_them(bea_client, bea, hamish, monkeypatch,
                                                       django_capture_on_commit_callbacks):
    from datetime import date

    from xero_connect.services import exports as export_service

    calls = []

    def fake_range(*, organisation, actor, date_from, date_to, doc_types=None, job=None):
        calls.append((organisation.slug, date_from, date_to, doc_types))
        return BulkJob(total=4)

    monkeypatch.setattr(export_service, "exports_enqueue_range", fake_range)
    orgs = bulk_organisations(bea, 1, admin=hamish)
    response = bea_client.post(reverse("portal_bulk"), {"kind": "export_range", "organisations": _ids(orgs)},
                               follow=True)
    assert "Choose the first and last date" in response.content.decode() and not BulkJob.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        bea_client.post(reverse("portal_bulk"), {"kind": "export_range", "organisations": _ids(orgs),
                                                 "date_from": "2025-01-01", "date_to": "2025-03-31",
                                                 "doc_types": ["bill"]})
    assert calls == [("client-0000", date(2025, 1, 1), date(2025, 3, 31), ["bill"])]
    assert BulkJob.objects.get(organisation=None).results[0]["detail"] == "4 documents queued for export."


def test_one_failing_organisation_does_not_stop_the_others(bea_client, bea, hamish, monkeypatch,
                                                           django_capture_on_commit_callbacks):
    from xero_connect.services import lists as lists_service
    from xero_connect.xero import errors

    real = lists_service.lists_refresh_enqueue

    def flaky(*, organisation, **kwargs):
        if organisation.slug == "client-0000":
            raise errors.ReauthorisationRequired("invalid_grant")
        return real(organisation=organisation, **kwargs)

    monkeypatch.setattr(lists_service, "lists_refresh_enqueue", flaky)
    orgs = bulk_organisations(bea, 2, admin=hamish)
    with django_capture_on_commit_callbacks(execute=True):
        bea_client.post(reverse("portal_bulk"), {"kind": "refresh_lists", "organisations": _ids(orgs)})
    job = BulkJob.objects.get(organisation=None)
    results = {r["name"]: r for r in job.results}
    assert results["Client 0000"]["outcome"] == "failed"
    assert results["Client 0000"]["detail"].startswith("Xero needs you to sign in again.")
    assert results["Client 0001"]["outcome"] == "done" and job.failed == 1 and job.done == 1


def test_bulk_refuses_organisations_the_user_does_not_belong_to(bea_client, bea, hamish, other_org):
    orgs = bulk_organisations(bea, 2, admin=hamish)
    response = bea_client.post(reverse("portal_bulk"),
                               {"kind": "health_check", "organisations": _ids(orgs) + [str(other_org.pk)]})
    assert response.status_code == 404 and not BulkJob.objects.exists()
    response = bea_client.post(reverse("portal_bulk"), {"kind": "health_check", "organisations": ["abc"]})
    assert response.status_code == 404


def test_select_all_matching_uses_the_filters(bea_client, bea, hamish, monkeypatch):
    from xero_connect.services import portal as portal_service

    monkeypatch.setattr(portal_service, "_enqueue", lambda job: None)
    bulk_organisations(bea, 12, admin=hamish)
    bea_client.post(reverse("portal_bulk"), {"kind": "health_check", "all_matching": "1", "status": "not_connected"})
    job = BulkJob.objects.get(organisation=None)
    assert sorted(r["name"] for r in job.results) == ["Client 0003", "Client 0008"]
    assert job.status == "queued"
    progress = bea_client.get(reverse("portal_job_progress", args=[job.pk])).json()
    assert progress == {**progress, "finished": False, "percent": 0, "results": []}


def test_bulk_needs_post_and_csrf(client, bea, hamish):
    from django.test import Client

    orgs = bulk_organisations(bea, 1, admin=hamish)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(bea)
    assert strict.post(reverse("portal_bulk"), {"kind": "health_check", "organisations": _ids(orgs)}).status_code == 403
    assert strict.get(reverse("portal_bulk")).status_code == 405
    assert not BulkJob.objects.exists()


def test_jobs_are_private_to_who_started_them(client, bea, hamish, outsider, monkeypatch):
    from xero_connect.services import portal as portal_service

    monkeypatch.setattr(portal_service, "_enqueue", lambda job: None)
    orgs = bulk_organisations(bea, 1, admin=hamish)
    job = portal_service.portal_bulk_start(actor=bea, organisation_ids=[orgs[0].pk], kind="health_check")
    client.force_login(hamish)  # Admin of a shared organisation, but not who started it
    assert client.get(reverse("portal_job", args=[job.pk])).status_code == 404
    assert client.get(reverse("portal_job_progress", args=[job.pk])).status_code == 404
    client.force_login(bea)
    assert client.get(reverse("portal_job", args=[job.pk])).status_code == 200
