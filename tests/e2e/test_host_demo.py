"""The host demo end to end: `manage.py host_demo` plays the vendor's system against a live
server with the sandbox as Xero — its organisation by external_id, a connect link, documents
pushed through the API and exported, webhooks received on its own loopback listener with
their signatures verified, and each document's fate printed."""
import io
import re

import pytest
from django.core.management import CommandError, call_command

from tests import factories, xero_live
from xero_connect.models import ExportRecord, ExportState, Role, SourceDocument

pytest.importorskip("xero_sandbox.services")
FAST = dict(XERO_LIMIT_MINUTE_SECONDS=1.0, XERO_EXPORT_MAX_INLINE_WAIT=2.0, XERO_EXPORT_BACKOFF_BASE=0.2)


@pytest.mark.slow
def test_host_demo_against_the_sandbox(xero, live_server, settings, transactional_db):
    for name, value in FAST.items():
        setattr(settings, name, value)
    org = factories.make_organisation("Kōwhai Coffee", slug="kowhai")
    org.external_id = "cust-1001"
    org.save()
    admin = factories.make_user("alice", first_name="Alice", last_name="Admin")
    factories.add_member(org, admin, Role.ADMIN)
    xero_live.connect(org, admin, "!kWh4R")

    out = io.StringIO()
    call_command("host_demo", base_url=live_server.url, external_id="cust-1001", documents=40, prefix="HD",
                 timeout=120, stdout=out)
    text = out.getvalue()
    assert "Organisation cust-1001 is already here: kowhai" in text
    assert re.search(r"Connect link \(valid until .+\): http://.+/connect/\S+/", text)
    assert "Pushed 40 documents: created 40, updated 0, unchanged 0, refused 0" in text
    assert "all signatures verified" in text and "refused (bad signature)" not in text
    assert "Fates: exported 39, failed 1" in text
    assert re.search(r"HD-0001: exported — Xero id [0-9a-f-]{36}", text)
    assert "HD-B0040: failed — " in text
    records = ExportRecord.objects.filter(organisation=org)
    assert records.filter(state=ExportState.EXPORTED).count() == 39
    assert SourceDocument.objects.filter(organisation=org).count() == 40
    assert xero.documents_count(tenant="!kWh4R") == 39  # in Xero once each
    # The host runs it again (with another key, so no Idempotency-Key replay): nothing twice.
    again = io.StringIO()
    call_command("host_demo", base_url=live_server.url, external_id="cust-1001", documents=40, prefix="HD",
                 timeout=5, stdout=again)
    assert "Pushed 40 documents: created 0, updated 0, unchanged 40, refused 0" in again.getvalue()
    assert SourceDocument.objects.filter(organisation=org).count() == 40


@pytest.mark.slow
def test_host_demo_admin_option_makes_the_connect_link_usable(xero, live_server, settings, transactional_db, client):
    """An organisation the API has just created has no users: without --admin its connect link
    answers 404 to everyone. With --admin the named user is its Admin and the link leads on."""
    for name, value in FAST.items():
        setattr(settings, name, value)
    alice = factories.make_user("alice", first_name="Alice", last_name="Admin")
    out = io.StringIO()
    call_command("host_demo", base_url=live_server.url, external_id="cust-new", documents=1, prefix="HN",
                 timeout=3, admin="alice", stdout=out)
    text = out.getvalue()
    assert "alice is now Admin of host-demo-customer" in text
    link = re.search(r"Connect link \(valid until .+\): http://[^/]+(/connect/\S+/)", text).group(1)
    client.force_login(alice)
    response = client.get(link)
    assert response.status_code == 302
    assert response["Location"] == "/o/host-demo-customer/xero/connect/"
    with pytest.raises(CommandError, match="no user “nobody”"):
        call_command("host_demo", base_url=live_server.url, external_id="cust-new", documents=1,
                     timeout=1, admin="nobody", stdout=io.StringIO())


def test_host_demo_return_url_answers_the_admins_browser():
    """After Finish the connect link sends the Admin's browser to host_demo's own return_url:
    it must answer a page, not "501 Unsupported method ('GET')"."""
    import requests

    from xero_connect.management.commands.host_demo import Receiver
    receiver = Receiver()
    try:
        answer = requests.get(receiver.url + "/connected",
                              params={"organisation": "<kauri>", "status": "connected"}, timeout=10)
    finally:
        receiver.close()
    assert answer.status_code == 200
    assert "organisation <b>&lt;kauri&gt;</b> is <b>connected</b>" in answer.text
