"""The host demo with a REAL django-q2 worker (#14's proof): `manage.py host_demo` plays the
vendor's system against a live server whose tasks go to the broker (nothing runs inline), and a
`manage.py qcluster` subprocess does the exports against the sandbox and delivers the signed
webhooks to the demo's own loopback listener. Each document's fate is printed, each exported
document is in the sandbox exactly once, and the ledger agrees with the sandbox."""
import io
import re

import pytest
from django.core.management import call_command

from tests import factories
from tests.xero_live import connect
from xero_connect.models import ExportRecord, ExportState, Role, SourceDocument

sandbox = pytest.importorskip("xero_sandbox.services")
pytestmark = pytest.mark.slow
KOWHAI = "!kWh4R"
DOCUMENTS = 40  # 35 sales invoices, 4 bills, and the last bill on an account Xero does not have
FAST = dict(XERO_LIMIT_MINUTE_SECONDS=1.0, XERO_EXPORT_MAX_INLINE_WAIT=2.0, XERO_EXPORT_BACKOFF_BASE=0.2)


def test_host_demo_with_a_real_worker_each_document_once_and_signed_webhooks(transactional_db, xero, worker,
                                                                              live_server, settings):
    for name, value in FAST.items():
        setattr(settings, name, value)
    org = factories.make_organisation("Kōwhai Coffee", slug="kowhai", base_currency="NZD")
    org.external_id = "cust-2001"
    org.save()
    admin = factories.make_user("alice", first_name="Alice", last_name="Admin")
    factories.add_member(org, admin, Role.ADMIN)
    connect(org, admin, KOWHAI)
    worker(Q_WORKERS="2", **FAST)

    out = io.StringIO()
    # Bounded: the demo waits at most 90 s for the webhooks (it returns as soon as every
    # document has a final event).
    call_command("host_demo", base_url=live_server.url, external_id="cust-2001", documents=DOCUMENTS, prefix="HW",
                 timeout=90, stdout=out)
    text = out.getvalue()

    assert f"Pushed {DOCUMENTS} documents: created {DOCUMENTS}, updated 0, unchanged 0, refused 0" in text
    received = re.search(r"Webhooks: (\d+) received, all signatures verified\. Fates: (.+)", text)
    assert received, text
    assert int(received.group(1)) >= DOCUMENTS  # one final event per document at least, each verified
    assert "refused (bad signature)" not in text
    assert received.group(2) == "exported 39, failed 1", text  # no "no news": the worker delivered them all
    # Each document's fate, by number.
    numbers = set(SourceDocument.objects.filter(organisation=org).values_list("number", flat=True))
    assert len(numbers) == DOCUMENTS
    for number in numbers:
        assert re.search(rf"^   {re.escape(number)}: (exported — Xero id [0-9a-f-]{{36}}|failed — .+)$", text,
                         re.MULTILINE), number
    assert re.search(r"^   HW-B0040: failed — .*999", text, re.MULTILINE), text  # Xero's reason, verbatim

    # In the sandbox exactly once each, and the ledger agrees document by document.
    in_xero = sandbox.documents(tenant=KOWHAI, kind="invoice")
    xero_numbers = [d["InvoiceNumber"] for d in in_xero]
    assert len(xero_numbers) == 39 and len(set(xero_numbers)) == 39
    assert set(xero_numbers) == numbers - {"HW-B0040"}
    exported = ExportRecord.objects.filter(organisation=org, state=ExportState.EXPORTED)
    assert set(exported.values_list("xero_id", flat=True)) == {d["InvoiceID"] for d in in_xero}
    assert ExportRecord.objects.filter(organisation=org, state=ExportState.FAILED).get().document.number == "HW-B0040"
