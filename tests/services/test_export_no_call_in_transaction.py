"""No call to Xero is made while a database transaction is open (issue #18): a transaction held
across an HTTP call holds row locks — and on SQLite the one writer's lock — for as long as Xero
takes to answer. Checked at the fake Xero's door for every request of a drain that writes,
refuses an element, loses an answer after Xero committed it and looks the batch up again; in a
test that does not wrap itself in a transaction, so what is seen is the drain's own."""
import pytest
import responses
from django.db import connection as db_connection
from django.utils import timezone

from tests import factories
from tests.fakes import FakeXero, records
from tests.services.test_exports import fast_limits, make_invoice  # noqa: F401 (fixture)
from xero_connect.models import ExportAttempt, ExportRecord, ExportState
from xero_connect.services import exports
from xero_connect.services.exports import drain as drain_module


@pytest.mark.django_db(transaction=True)
def test_no_call_to_xero_is_made_inside_a_database_transaction():
    admin = factories.make_user("ana")
    org = factories.make_organisation("Calls Ltd", slug="calls")
    factories.add_member(org, admin, role="admin")
    factories.make_connection(org, actor=admin)
    for i in range(120):
        make_invoice(org, f"INV-{i:04d}", code="999" if i == 7 else "200")
    seen = []
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        xero = FakeXero(rsps)
        for match in rsps.registered():  # observe every request at Xero's door, then answer as before
            answer = match.callback

            def observed(request, answer=answer):
                seen.append((request.method, db_connection.in_atomic_block))
                return answer(request)

            match.callback = observed
        xero.commit_then_drop()  # the first write is committed in Xero and its answer lost
        exports.exports_enqueue(records=records(org), actor=admin)
        for _ in range(3):  # the dropped batch, due again at once, is looked up and settled
            records(org).filter(state=ExportState.QUEUED).update(next_attempt_at=timezone.now())
            exports.exports_drain(organisation_id=org.pk, max_seconds=5)
            if not records(org).filter(state=ExportState.QUEUED).exists():
                break
    assert {"PUT", "GET"} <= {method for method, _ in seen}, seen
    assert [method for method, in_transaction in seen if in_transaction] == []
    assert records(org).filter(state=ExportState.EXPORTED).count() == 119
    assert len(xero.created()) == 119


@pytest.mark.django_db(transaction=True)
def test_a_worker_whose_claim_was_put_back_while_it_stalled_sends_nothing(monkeypatch):
    """A worker stalls between its claim and its call for longer than the lease; its records are
    put back and taken by another worker. When the first wakes, its send start finds the records
    no longer under its claim: it neither writes nor calls Xero, so nothing lands twice."""
    admin = factories.make_user("bo")
    org = factories.make_organisation("Stall Ltd", slug="stall")
    factories.add_member(org, admin, role="admin")
    factories.make_connection(org, actor=admin)
    for i in range(3):
        make_invoice(org, f"INV-{i:04d}")
    real_prepare = drain_module._prepare

    def stalled_prepare(records, **kwargs):
        items = real_prepare(records, **kwargs)
        # Meanwhile the lease ran out, the claim was put back and another worker took the records.
        ExportRecord.objects.filter(pk__in=[it.record.pk for it in items]).update(claimed_by="another-worker:abc")
        return items

    monkeypatch.setattr(drain_module, "_prepare", stalled_prepare)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        xero = FakeXero(rsps)
        exports.exports_enqueue(records=records(org), actor=admin)  # its drain runs here (tests: sync)
        exports.exports_drain(organisation_id=org.pk, max_seconds=1)
    assert xero.calls == []
    assert not ExportAttempt.objects.filter(record__organisation=org).exists()
    assert set(records(org).values_list("state", "claimed_by")) == {(ExportState.EXPORTING, "another-worker:abc")}
