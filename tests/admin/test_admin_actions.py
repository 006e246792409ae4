import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from tests import factories
from xero_connect.models import (
    BulkJob, ConnectionEvent, DocumentType, ExportRecord, ExportState, ListRefresh, SourceDocument,
)


@pytest.fixture
def staff(db):
    return factories.make_user("olive", first_name="Olive", last_name="Operations", is_staff=True,
                               is_superuser=True)


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def _act(client, model, action, ids, **extra):
    url = reverse(f"admin:xero_connect_{model}_changelist")
    return client.post(url, {"action": action, ACTION_CHECKBOX_NAME: [str(i) for i in ids], **extra}, follow=True)


def _messages(response):
    return [str(m) for m in response.context["messages"]]


MODELS = ["organisation", "membership", "xeroconnection", "connectionevent", "pendingauthorisation", "account",
          "currency", "taxrate", "contact", "trackingcategory", "listrefresh", "sourcedocument", "exportrecord",
          "bulkjob", "ratebudget"]


@pytest.mark.parametrize("model", MODELS)
def test_staff_can_see_and_search_every_model(staff_client, model, org, admin_user):
    url = reverse(f"admin:xero_connect_{model}_changelist")
    assert staff_client.get(url).status_code == 200
    assert staff_client.get(url, {"q": "acme"}).status_code == 200


def test_non_staff_cannot_use_the_admin(admin_client):
    response = admin_client.get(reverse("admin:xero_connect_organisation_changelist"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_tokens_are_never_shown_or_editable(staff_client, org, admin_user):
    connection = factories.make_connection(org, actor=admin_user, access_token="ACCESS-SECRET-1",
                                           refresh_token="REFRESH-SECRET-1")
    html = staff_client.get(reverse("admin:xero_connect_xeroconnection_change", args=[connection.pk])).content.decode()
    for secret in ("ACCESS-SECRET-1", "REFRESH-SECRET-1", connection.access_token_encrypted.ciphertext,
                   connection.refresh_token_encrypted.ciphertext):
        assert secret not in html
    assert "token_encrypted" not in html and "refresh_lock" not in html
    listing = staff_client.get(reverse("admin:xero_connect_xeroconnection_changelist")).content.decode()
    assert connection.refresh_token_encrypted.ciphertext not in listing
    # No delete (it would lose the history and leave the authorisation alive at Xero).
    assert staff_client.get(reverse("admin:xero_connect_xeroconnection_delete", args=[connection.pk])).status_code == 403


def test_audit_rows_are_read_only(staff_client, org, admin_user):
    factories.make_connection(org, actor=admin_user)
    event = ConnectionEvent.objects.get()
    url = reverse("admin:xero_connect_connectionevent_change", args=[event.pk])
    assert staff_client.post(url, {"reason": "rewritten"}).status_code == 403
    event.refresh_from_db()
    assert event.reason != "rewritten"


def test_organisation_list_shows_status_in_words(staff_client, org, other_org, admin_user):
    factories.make_connection(org, actor=admin_user, status="needs_reconnect", tenant_name="Acme in Xero")
    html = staff_client.get(reverse("admin:xero_connect_organisation_changelist")).content.decode()
    assert "Needs reconnect" in html and "Not connected to Xero" in html and "Acme in Xero" in html
    filtered = staff_client.get(reverse("admin:xero_connect_organisation_changelist"),
                                {"xero_status": "needs_reconnect"})
    assert list(filtered.context["cl"].result_list) == [org]


def test_health_check_action_runs_the_diagnosis_and_is_audited(staff_client, staff, org, other_org,
                                                               django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = _act(staff_client, "organisation", "health_check", [org.pk, other_org.pk])
    job = BulkJob.objects.get()
    assert job.actor == staff and job.kind == BulkJob.Kind.HEALTH_CHECK and job.organisation is None
    assert any("Run a health check started for 2 organisations" in m and f"#{job.pk}" in m
               for m in _messages(response))
    assert job.status == "done" and {r["outcome"] for r in job.results} == {"problem"}  # neither is connected
    assert all("not connected" in r["detail"].lower() for r in job.results), job.results
    checks = ConnectionEvent.objects.filter(kind=ConnectionEvent.Kind.CHECK)
    assert {(e.organisation_id, e.actor_id) for e in checks} == {(org.pk, staff.pk), (other_org.pk, staff.pk)}
    # The job's page shows the per-organisation results to the staff member who started it.
    page = staff_client.get(reverse("portal_job", args=[job.pk]))
    assert page.status_code == 200 and "Acme Widgets" in page.content.decode()


def test_refresh_lists_action_from_connections(staff_client, staff, org, admin_user,
                                               django_capture_on_commit_callbacks):
    connection = factories.make_connection(org, actor=admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        _act(staff_client, "xeroconnection", "refresh_lists", [connection.pk])
    refresh = ListRefresh.objects.get(organisation=org)
    assert refresh.actor == staff and refresh.trigger == ListRefresh.Trigger.BULK
    job = BulkJob.objects.get()
    assert job.actor == staff and job.results[0]["name"] == "Acme Widgets"


def test_retry_failed_action_calls_the_export_service(staff_client, staff, org, monkeypatch,
                                                      django_capture_on_commit_callbacks):
    from xero_connect.services import exports as export_service

    calls = []
    monkeypatch.setattr(export_service, "exports_retry_failed",
                        lambda *, organisation, actor, job=None: calls.append((organisation, actor)) or
                        BulkJob(total=3))
    with django_capture_on_commit_callbacks(execute=True):
        _act(staff_client, "organisation", "retry_failed_exports", [org.pk])
    assert calls == [(org, staff)]
    assert BulkJob.objects.get(organisation=None).results[0]["detail"] == "3 failed exports queued again."


def test_export_selected_documents_action(staff_client, staff, org, monkeypatch):
    from xero_connect.services import exports as export_service

    docs = [SourceDocument.objects.create(organisation=org, doc_type=DocumentType.SALES_INVOICE, number=f"INV-{n}",
                                          date="2025-02-0%d" % (n + 1)) for n in range(3)]

    def ledger_sync(*, organisation):
        for doc in SourceDocument.objects.filter(organisation=organisation):
            ExportRecord.objects.get_or_create(document=doc, defaults=dict(
                organisation=organisation, doc_type=doc.doc_type, doc_date=doc.date))

    def exports_enqueue(*, records, actor, update_existing=False, job=None):
        ids = [r.pk for r in records]
        return ExportRecord.objects.filter(pk__in=ids).exclude(state=ExportState.EXPORTED).update(
            state=ExportState.QUEUED, queued_by=actor, job=job)

    monkeypatch.setattr(export_service, "ledger_sync", ledger_sync)
    monkeypatch.setattr(export_service, "exports_enqueue", exports_enqueue)
    ledger_sync(organisation=org)
    ExportRecord.objects.filter(document=docs[0]).update(state=ExportState.EXPORTED)
    response = _act(staff_client, "sourcedocument", "export_selected_documents", [d.pk for d in docs])
    job = BulkJob.objects.get(organisation=org)
    assert job.actor == staff and job.kind == BulkJob.Kind.EXPORT_SELECTED
    assert ExportRecord.objects.filter(state=ExportState.QUEUED, queued_by=staff, job=job).count() == 2
    assert f"Acme Widgets: 2 documents queued for export (job #{job.pk}); 1 already exported or on their way, " \
           "left as they are." in _messages(response)


def test_disconnect_confirms_first(staff_client, org, admin_user):
    connection = factories.make_connection(org, actor=admin_user)
    response = _act(staff_client, "organisation", "disconnect_xero", [org.pk])
    html = response.content.decode()
    assert "Disconnect Xero for 1 organisation?" in html and 'name="confirm" value="yes"' in html
    connection.refresh_from_db()
    assert connection.is_current and connection.status == "connected"


def test_disconnect_after_confirmation_is_audited(staff_client, staff, org, other_org, admin_user, monkeypatch):
    from xero_connect.xero import oauth

    connection = factories.make_connection(org, actor=admin_user)
    # No network: Xero's side of the disconnect is best effort and recorded by the service.
    monkeypatch.setattr(oauth, "delete_connection", lambda **kw: None)
    monkeypatch.setattr(oauth, "revoke", lambda **kw: None)
    response = _act(staff_client, "organisation", "disconnect_xero", [org.pk, other_org.pk], confirm="yes")
    connection.refresh_from_db()
    assert not connection.is_current and connection.status == "disconnected"
    event = ConnectionEvent.objects.get(transition="disconnect")
    assert event.actor == staff and event.organisation == org
    assert event.reason == "Disconnected from Xero by platform staff"
    messages = _messages(response)
    assert "Acme Widgets: disconnected." in messages and "Other Co: was not connected." in messages


def test_staff_disconnect_needs_the_admin_door_not_the_organisation_pages(client, staff, org, admin_user):
    """Platform staff may disconnect from the Django admin; on the organisation's own pages the
    membership rules apply to staff like anyone (not a member: 404)."""
    factories.make_connection(org, actor=admin_user)
    client.force_login(staff)
    assert client.post(f"/o/{org.slug}/xero/disconnect/").status_code == 404
    from xero_connect import roles
    from xero_connect.roles import Action

    with pytest.raises(roles.AdminRequired):
        roles.require(user=staff, organisation=org, action=Action.DISCONNECT)
    roles.require(user=staff, organisation=org, action=Action.DISCONNECT, as_staff=True)


def test_export_selected_records_through_the_real_export_service(staff_client, staff, org):
    docs = [SourceDocument.objects.create(organisation=org, doc_type=DocumentType.BILL, number=f"BILL-{n}",
                                          date="2025-03-0%d" % (n + 1)) for n in range(2)]
    from xero_connect.services.exports import ledger_sync

    ledger_sync(organisation=org)
    records = ExportRecord.objects.filter(document__in=docs)
    response = _act(staff_client, "exportrecord", "export_selected_records", [r.pk for r in records])
    job = BulkJob.objects.get(organisation=org, kind=BulkJob.Kind.EXPORT_SELECTED)
    assert job.actor == staff and job.total == 2
    assert set(records.values_list("state", "queued_by", "job")) == {(ExportState.QUEUED, staff.pk, job.pk)}
    assert f"Acme Widgets: 2 documents queued for export (job #{job.pk})." in _messages(response)


def test_a_secret_the_admin_shows_once_never_travels_in_a_cookie(staff_client):
    """The admin shows a new webhook endpoint's signing secret as a message: messages live in the
    server-side session (a signed cookie is readable by whoever holds the browser's cookies)."""
    response = staff_client.post(reverse("admin:xero_connect_webhookendpoint_add"),
                                 {"url": "http://127.0.0.1:9/p", "description": "", "is_active": "on"})
    assert response.status_code == 302
    assert "messages" not in response.cookies and "whsec_" not in str(response.cookies)
    page = staff_client.get(response["Location"])
    assert b"whsec_" in page.content  # shown once, from the session
    again = staff_client.get(response["Location"])
    assert b"whsec_" not in again.content
