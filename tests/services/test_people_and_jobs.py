"""Issue #12 item 3: people and jobs change under a running system.
- the user who connected Xero is deleted: every page renders, history says "a former user";
- a queued portal bulk job re-checks membership and role when each organisation's part runs;
- Finish pressed in two tabs: the loser gets a clear page, its authorisation is revoked in
  Xero (the sandbox) and its tokens are discarded; the winner's connection keeps working."""
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from tests import factories, xero_live
from tests.security.test_url_rules import ORG_URLS
from xero_connect.models import BulkJob, ConnectionEvent, Membership, PendingAuthorisation, Role, XeroConnection
from xero_connect.services import connections
from xero_connect.services.connections import oauth_flow
from xero_connect.services import portal as portal_svc
from xero_connect.xero import errors, oauth


def test_deleting_the_user_who_connected_xero_leaves_every_page_rendering(org, admin_user, client):
    leaver = factories.make_user("lee", first_name="Lee", last_name="Ver")
    factories.add_member(org, leaver, Role.ADMIN)
    factories.make_connection(org, actor=leaver)
    leaver.delete()  # removed in the admin
    client.force_login(admin_user)

    for param in ORG_URLS:
        url = param.values[0].format(org=org.slug)
        assert client.get(url).status_code < 500, url
    home = client.get(reverse("organisation_home", args=[org.slug])).content.decode()
    page = client.get(reverse("connection_page", args=[org.slug])).content.decode()
    assert "a former user" in home and "a former user" in page
    event = ConnectionEvent.objects.get(transition="establish")
    assert event.actor is None and event.actor_name == "a former user"
    staff = Client()
    staff.force_login(factories.make_user("olive", is_staff=True, is_superuser=True))
    for model in ("xeroconnection", "connectionevent"):
        assert staff.get(reverse(f"admin:xero_connect_{model}_changelist")).status_code == 200
    connection = XeroConnection.objects.get(organisation=org)
    assert staff.get(reverse("admin:xero_connect_xeroconnection_change", args=[connection.pk])).status_code == 200


def test_automatic_events_still_say_automatic(org):
    connection = factories.make_connection(org, actor=None)
    event = ConnectionEvent.objects.get(connection=connection)
    assert event.actor_name == ""


@pytest.fixture
def no_enqueue(monkeypatch):
    monkeypatch.setattr(portal_svc, "_enqueue", lambda job: None)


@pytest.mark.parametrize("members_may_refresh", [True, False])
def test_a_queued_portal_job_rechecks_membership_and_role_per_organisation(org, other_org, admin_user, no_enqueue,
                                                                         monkeypatch, members_may_refresh):
    from xero_connect import roles

    if not members_may_refresh:  # the rule the role is checked against, made admin-only
        monkeypatch.setitem(roles.PERMISSIONS, Role.MEMBER,
                            roles.PERMISSIONS[Role.MEMBER] - {roles.Action.REFRESH_LISTS})
    third = factories.make_organisation("Third Org", slug="third")
    for o in (other_org, third):
        factories.add_member(o, admin_user, Role.ADMIN)
    ran = []
    monkeypatch.setattr(portal_svc, "RUNNERS", {**portal_svc.RUNNERS, BulkJob.Kind.REFRESH_LISTS:
                                                lambda job, o: ran.append(o.slug) or ("done", "ok", "")})
    job = portal_svc.portal_bulk_start(actor=admin_user, organisation_ids=[org.pk, other_org.pk, third.pk],
                                       kind=BulkJob.Kind.REFRESH_LISTS)
    # While the job waits in the queue: she leaves one organisation and is made a Member of another.
    Membership.objects.filter(user=admin_user, organisation=other_org).delete()
    Membership.objects.filter(user=admin_user, organisation=third).update(role=Role.MEMBER)

    job = portal_svc.portal_bulk_run(job_id=job.pk)

    by_slug = {r["slug"]: r for r in job.results}
    assert by_slug[org.slug]["outcome"] == "done"
    assert by_slug[other_org.slug]["outcome"] == "skipped"
    assert "no longer a member of" in by_slug[other_org.slug]["detail"]
    if members_may_refresh:
        assert ran == [org.slug, "third"]
    else:
        assert ran == [org.slug]
        assert by_slug["third"]["outcome"] == "skipped"
        assert "you are now Member of Third Org" in by_slug["third"]["detail"]


def test_a_deleted_starter_runs_nothing(org, admin_user, no_enqueue, monkeypatch):
    ran = []
    monkeypatch.setattr(portal_svc, "RUNNERS", {**portal_svc.RUNNERS, BulkJob.Kind.HEALTH_CHECK:
                                                lambda job, o: ran.append(o.slug) or ("done", "ok", "")})
    job = portal_svc.portal_bulk_start(actor=admin_user, organisation_ids=[org.pk], kind=BulkJob.Kind.HEALTH_CHECK)
    admin_user.delete()
    job = portal_svc.portal_bulk_run(job_id=job.pk)
    assert ran == [] and job.results[0]["outcome"] == "skipped"


KOWHAI = "!kWh4R"


def _sign_in(org, admin) -> PendingAuthorisation:
    from xero_sandbox import services as sandbox

    session = xero_live.Session()
    url = connections.oauth_start(organisation=org, actor=admin, session=session)
    callback = sandbox.consent_redirect(url, tenants=[KOWHAI])
    return connections.oauth_callback(session=session, user=admin, params=dict(parse_qsl(urlsplit(callback).query)))


def test_finish_in_two_tabs_the_loser_gets_a_clear_page_and_its_tokens_are_revoked(xero, transactional_db,
                                                                                   monkeypatch, client):
    org = factories.make_organisation("Kōwhai Coffee", slug="kowhai")
    admin = factories.make_user("alice", first_name="Alice", last_name="Admin")
    factories.add_member(org, admin, Role.ADMIN)
    tab1, tab2 = _sign_in(org, admin), _sign_in(org, admin)
    tenant_id = str(xero.organisation_get(KOWHAI).tenant_id)
    loser_token = tab2.get_refresh_token()
    real_details = oauth_flow._organisation_details

    def stall_then_details(**kwargs):  # tab 2 stalls on its call to Xero while tab 1 finishes
        monkeypatch.setattr(oauth_flow, "_organisation_details", real_details)
        connections.connection_complete(pending=tab1, actor=admin, tenant_id=tenant_id)
        return real_details(**kwargs)

    monkeypatch.setattr(oauth_flow, "_organisation_details", stall_then_details)
    with pytest.raises(connections.FinishedElsewhere):
        connections.connection_complete(pending=tab2, actor=admin, tenant_id=tenant_id)

    winner = XeroConnection.objects.get(organisation=org, is_current=True)
    assert winner.auth_event_id == tab1.auth_event_id
    tab2.refresh_from_db()
    assert not tab2.access_token_encrypted and not tab2.refresh_token_encrypted
    with pytest.raises(errors.ReauthorisationRequired):
        oauth.refresh(refresh_token=loser_token)  # revoked in Xero
    assert oauth.refresh(refresh_token=winner.get_refresh_token()).access_token  # the winner still works

    # Pressing Finish again in the losing tab: the same clear page, at once, never a 500.
    client.force_login(admin)
    response = client.post(reverse("connection_confirm", args=[org.slug, tab2.pk]), {"tenant_id": tenant_id})
    assert response.status_code == 409
    assert "Xero was connected from another tab" in response.content.decode()


def test_a_deleted_users_refreshes_jobs_and_export_attempts_say_a_former_user(org, admin_user, client):
    """#12 item 3 leftover: rows a person made keep saying so after their account is deleted;
    automatic runs still name nobody."""
    from tests.services.test_exports import FakeXero, make_invoice, records
    import responses

    from xero_connect.models import ExportAttempt, ListRefresh
    from xero_connect.services import exports, lists

    leaver = factories.make_user("lee", first_name="Lee", last_name="Ver")
    factories.add_member(org, leaver, Role.ADMIN)
    factories.make_connection(org, actor=admin_user, short_code="!abc12")
    refresh = lists.lists_refresh_enqueue(organisation=org, actor=leaver, lists=["accounts"])
    ListRefresh.objects.filter(pk=refresh.pk).update(status=ListRefresh.Status.DONE)  # ran: not reused below
    automatic = lists.lists_refresh_enqueue(organisation=org, actor=None, trigger=ListRefresh.Trigger.SCHEDULE,
                                            lists=["accounts"])
    make_invoice(org, "INV-1")
    job = exports.exports_enqueue_selected(organisation=org, actor=leaver,
                                           record_ids=list(records(org).values_list("pk", flat=True)))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        FakeXero(rsps)
        exports.exports_drain(organisation_id=org.pk, max_seconds=5)
    attempt = ExportAttempt.objects.get()
    leaver.delete()  # removed in the admin

    for row in (refresh, automatic, job, attempt):
        row.refresh_from_db()
    assert (refresh.actor, job.actor, attempt.actor) == (None, None, None)
    assert refresh.actor_name == job.actor_name == attempt.actor_name == "a former user"
    assert automatic.actor_name == ""
    client.force_login(admin_user)
    lists_page = client.get(reverse("lists_index", args=[org.slug])).content.decode()
    assert lists_page.count("a former user") == 1  # the leaver's refresh, not the scheduled one
    detail = client.get(reverse("lists_refresh_detail", args=[org.slug, refresh.pk])).content.decode()
    assert "by a former user" in detail
    record = client.get(reverse("exports_record", args=[org.slug, attempt.record_id])).content.decode()
    assert "a former user" in record
    exported = record[record.index("<dt>Exported</dt>"):]
    assert "by a former user" in exported[:exported.index("</dd>")]
    asked = record[record.index("<dt>Last asked</dt>"):]
    assert "by a former user" in asked[:asked.index("</dd>")]
    staff = Client()
    staff.force_login(factories.make_user("olive", is_staff=True, is_superuser=True))
    for model in ("listrefresh", "bulkjob"):
        changelist = staff.get(reverse(f"admin:xero_connect_{model}_changelist"))
        assert changelist.status_code == 200 and "a former user" in changelist.content.decode(), model
