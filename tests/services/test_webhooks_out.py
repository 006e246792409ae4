"""Webhooks out, delivered for real to a listener on loopback and verified with the
standardwebhooks library, as the host system would."""
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from tests import factories
from xero_connect import connection_states
from xero_connect.models import (ExportRecord, Role, SourceDocument, WebhookDelivery, WebhookEndpoint,
                                 WebhookEvent)
from xero_connect.services import webhooks_out


class Listener:
    """A host system's webhook receiver on 127.0.0.1: answers the queued status codes in turn
    (then 200), keeping every request it got."""

    def __init__(self, answers=()):
        self.answers = list(answers)
        self.received = []
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                listener.received.append((dict(self.headers), body))
                self.send_response(listener.answers.pop(0) if listener.answers else 200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener():
    made = []

    def make(answers=()):
        made.append(Listener(answers))
        return made[-1]

    yield make
    for one in made:
        one.close()


def make_endpoint(org, admin_user, url, events=()):
    return webhooks_out.endpoint_create(organisation=org, actor=admin_user, url=url, events=events)


def failed_document(org, number="INV-1"):
    doc = SourceDocument.objects.create(organisation=org, doc_type="sales_invoice", number=number,
                                        date="2026-11-02")
    return ExportRecord.objects.create(organisation=org, document=doc, doc_type=doc.doc_type, doc_date=doc.date,
                                       state="failed", last_error="Account code 999 is not valid")


def run_due(endpoint):
    """What the sweeper does once the retry is due."""
    WebhookDelivery.objects.filter(endpoint=endpoint, status="pending").update(next_attempt_at=timezone.now())
    return webhooks_out.webhook_endpoint_drain(endpoint_id=endpoint.pk)


def test_an_endpoint_failing_twice_gets_the_event_on_the_third_try_signed(org, admin_user, listener):
    host = listener(answers=[500, 503])
    org.external_id = "cust-42"
    org.save()
    endpoint, secret = make_endpoint(org, admin_user, host.url)
    record = failed_document(org)
    webhooks_out.documents_event(event_type=WebhookEvent.DOCUMENT_FAILED, record_ids=[record.pk])
    assert webhooks_out.webhook_endpoint_drain(endpoint_id=endpoint.pk) == 0
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending" and delivery.attempts == 1 and delivery.last_status_code == 500
    assert delivery.next_attempt_at > timezone.now()  # backoff: not again at once
    assert webhooks_out.webhook_endpoint_drain(endpoint_id=endpoint.pk) == 0
    assert run_due(endpoint) == 0
    assert run_due(endpoint) == 1
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempts == 3
    assert [a.status_code for a in delivery.attempt_log.order_by("number")] == [500, 503, 200]
    ids = {headers["webhook-id"] for headers, _ in host.received}
    assert ids == {delivery.message_id}  # the same id on every attempt: the host can deduplicate
    headers, body = host.received[-1]
    event = Webhook(secret).verify(body, {k.lower(): v for k, v in headers.items()})
    assert event["type"] == "document.failed"
    assert event["data"]["organisation"]["external_id"] == "cust-42"
    assert event["data"]["document"]["number"] == "INV-1"
    assert event["data"]["document"]["last_error"] == "Account code 999 is not valid"
    with pytest.raises(Exception):
        Webhook("whsec_" + "A" * 43).verify(body, {k.lower(): v for k, v in headers.items()})


def test_the_retry_schedule_covers_more_than_a_day_then_gives_up(org, admin_user, listener):
    assert sum(webhooks_out.RETRY_SCHEDULE) >= 24 * 3600
    host = listener(answers=[500] * 20)
    endpoint, _ = make_endpoint(org, admin_user, host.url)
    webhooks_out.documents_event(event_type=WebhookEvent.DOCUMENT_FAILED, record_ids=[failed_document(org).pk])
    for _ in range(len(webhooks_out.RETRY_SCHEDULE) + 1):
        run_due(endpoint)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed" and delivery.attempts == len(webhooks_out.RETRY_SCHEDULE) + 1
    assert run_due(endpoint) == 0 and len(host.received) == delivery.attempts


def test_resend_sends_it_again(org, admin_user, listener, django_capture_on_commit_callbacks):
    host = listener()
    endpoint, _ = make_endpoint(org, admin_user, host.url)
    webhooks_out.documents_event(event_type=WebhookEvent.DOCUMENT_FAILED, record_ids=[failed_document(org).pk])
    run_due(endpoint)
    delivery = WebhookDelivery.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        webhooks_out.webhook_resend(delivery=delivery, actor=admin_user)
    assert len(host.received) == 2 and delivery.attempt_log.count() == 2


def test_an_endpoint_failing_for_a_day_is_disabled_and_admins_are_emailed(org, admin_user, listener):
    host = listener(answers=[500] * 5)
    endpoint, _ = make_endpoint(org, admin_user, host.url)
    webhooks_out.documents_event(event_type=WebhookEvent.DOCUMENT_FAILED, record_ids=[failed_document(org).pk])
    run_due(endpoint)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=timezone.now() - timedelta(hours=25))
    run_due(endpoint)
    endpoint.refresh_from_db()
    assert not endpoint.is_active and "500" in endpoint.disabled_reason
    assert len(mail.outbox) == 1 and admin_user.email in mail.outbox[0].to
    assert "disabled" in mail.outbox[0].subject
    sent = len(host.received)
    run_due(endpoint)
    assert len(host.received) == sent  # disabled: nothing more goes out


def test_a_success_clears_the_failing_clock(org, admin_user, listener):
    host = listener(answers=[500])
    endpoint, _ = make_endpoint(org, admin_user, host.url)
    webhooks_out.documents_event(event_type=WebhookEvent.DOCUMENT_FAILED, record_ids=[failed_document(org).pk])
    run_due(endpoint)
    endpoint.refresh_from_db()
    assert endpoint.failing_since is not None
    run_due(endpoint)
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None and endpoint.is_active


def test_loopback_is_refused_under_production_settings(org, admin_user, listener, settings):
    host = listener()
    endpoint, _ = make_endpoint(org, admin_user, host.url)
    settings.WEBHOOK_ALLOW_PRIVATE = False  # what production settings (DEBUG=false) give
    webhooks_out.documents_event(event_type=WebhookEvent.DOCUMENT_FAILED, record_ids=[failed_document(org).pk])
    run_due(endpoint)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending" and "https" in delivery.last_error and host.received == []
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url=host.url.replace("http://", "https://"))
    for url in ("https://127.0.0.1/", "https://localhost/", "https://[::1]/", "https://169.254.169.254/",
                "https://10.1.2.3/", "https://192.168.0.1/"):
        with pytest.raises(webhooks_out.AddressRefused):
            webhooks_out.address_check(url)
    assert host.received == []


def test_only_endpoints_that_want_the_event_get_it_and_platform_endpoints_hear_everyone(org, other_org, admin_user):
    mine, _ = make_endpoint(org, admin_user, "http://127.0.0.1:9/a", events=[WebhookEvent.DOCUMENT_EXPORTED])
    staff = get_user_model().objects.create_user("platform-staff", is_staff=True)
    platform, _ = webhooks_out.endpoint_create(organisation=None, actor=staff, url="http://127.0.0.1:9/p",
                                               as_staff=True)
    webhooks_out.documents_event(event_type=WebhookEvent.DOCUMENT_FAILED,
                                 record_ids=[failed_document(org).pk, failed_document(other_org, "X-1").pk])
    assert sorted(WebhookDelivery.objects.values_list("endpoint_id", "organisation_id")) == [
        (platform.pk, org.pk), (platform.pk, other_org.pk)]


def test_members_cannot_make_endpoints(org, member_user):
    from xero_connect.roles import AdminRequired

    with pytest.raises(AdminRequired):
        webhooks_out.endpoint_create(organisation=org, actor=member_user, url="http://127.0.0.1:9/")


def test_connection_status_changes_are_events(org, admin_user):
    endpoint, _ = make_endpoint(org, admin_user, "http://127.0.0.1:9/a")
    connection = factories.make_connection(org, tenant_name="Acme Xero")
    connection_states.mark_needs_reconnect(connection, reason="invalid_grant")
    payloads = [d.payload for d in WebhookDelivery.objects.filter(event_type="connection.status_changed")
                .order_by("id")]
    assert payloads[-1]["data"]["connection"]["to"] == "needs_reconnect"
    assert payloads[-1]["data"]["connection"]["status_words"] == "Needs reconnect"
    assert payloads[-1]["data"]["organisation"]["slug"] == org.slug


def test_production_settings_refuse_loopback_after_resolving_the_name():
    """Under production settings (DEBUG=false, in a fresh process) 'localhost' resolves to
    loopback and is refused; so are plain http and link-local addresses."""
    import subprocess
    import sys

    from django.conf import settings

    code = ("import django,os;os.environ['DJANGO_SETTINGS_MODULE']='config.settings';django.setup();"
            "from django.conf import settings as s;from xero_connect.services import webhooks_out as w\n"
            "print('allow', s.WEBHOOK_ALLOW_PRIVATE)\n"
            "for url in ('https://localhost:8443/h', 'http://example.com/h', 'https://169.254.169.254/'):\n"
            "    try:\n        w.address_check(url); print('sent', url)\n"
            "    except w.AddressRefused as e: print('refused', url, e)\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "DEBUG": "false", "SECRET_KEY": "x" * 60 + "-prod-check-only",
           "TOKEN_ENCRYPTION_KEYS": "dGVzdC1vbmx5LWtleS1ub3QtYS1zZWNyZXQtMDAwMDA=", "ALLOWED_HOSTS": "xc.example.com",
           "DATABASE_URL": "sqlite:////tmp/xc-check.sqlite3"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                         cwd=settings.BASE_DIR).stdout
    assert "allow False" in out and "sent" not in out
    assert "refused https://localhost:8443/h localhost resolves to" in out
    assert out.count("refused") == 3


def test_an_endpoint_whose_secret_no_key_opens_sends_nothing_unsigned_and_delivers_once_the_key_is_back(
        org, admin_user, listener, settings):
    host = listener()
    endpoint, secret = make_endpoint(org, admin_user, host.url)
    webhooks_out.documents_event(event_type=WebhookEvent.DOCUMENT_FAILED, record_ids=[failed_document(org).pk])
    kept = list(settings.TOKEN_ENCRYPTION_KEYS)
    settings.TOKEN_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]  # the sealing key removed too early
    run_due(endpoint)
    assert host.received == []
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.status == WebhookDelivery.Status.PENDING and "signing secret can no longer be read" in \
        delivery.last_error
    settings.TOKEN_ENCRYPTION_KEYS = kept  # the operators put it back
    run_due(endpoint)
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED and len(host.received) == 1
    headers, body = host.received[0]
    Webhook(secret).verify(body, {k.lower(): v for k, v in headers.items()})


def test_endpoints_for_every_organisation_are_platform_staffs_and_the_staff_flag_is_no_bypass(org, admin_user):
    staff = get_user_model().objects.create_user("platform-staff", is_staff=True)
    for actor, as_staff in ((admin_user, False), (admin_user, True), (staff, False)):
        with pytest.raises(PermissionDenied):
            webhooks_out.endpoint_create(organisation=None, actor=actor, url="http://127.0.0.1:9/p", as_staff=as_staff)
    # Staff in the admin reach an organisation's endpoints too; an Admin of the organisation does not need the flag.
    endpoint, _ = webhooks_out.endpoint_create(organisation=org, actor=staff, url="http://127.0.0.1:9/o",
                                               as_staff=True)
    webhooks_out.endpoint_enable(endpoint=endpoint, actor=admin_user)
    assert WebhookEndpoint.objects.filter(organisation=None).count() == 0
