from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests import factories
from tests.selectors.test_portal_fixtures import bulk_organisations
from xero_connect.models import Role
from xero_connect.selectors import portal as sel


@pytest.fixture
def bea(db):
    return factories.make_user("bea", first_name="Bea", last_name="Bookkeeper")


@pytest.fixture
def hamish(db):
    return factories.make_user("hamish", first_name="Hamish", last_name="Harbour")


def _page(user, **params):
    return sel.portal_page(user=user, filters=sel.PortalFilters.from_query(params))


def _queries(user, **params):
    with CaptureQueriesContext(connection) as ctx:
        page = _page(user, **params)
        # Touch everything the template touches.
        for row in page.rows + page.attention_rows:
            row.next_step, row.admin_names, row.exports_30d, row.organisation.slug
    return len(ctx.captured_queries), page


def test_query_count_is_the_same_for_10_and_500_organisations(bea, hamish):
    bulk_organisations(bea, 10, admin=hamish)
    small, page = _queries(bea, per_page="200")
    assert len(page.rows) == 10
    bulk_organisations(bea, 490, start=10, admin=hamish)
    large, page = _queries(bea, per_page="200")
    assert page.total_organisations == 500 and len(page.rows) == 200
    assert small == large, (small, large)
    # And a filtered, sorted page costs the same.
    filtered, _ = _queries(bea, attention="1", sort="-failed", q="Client", per_page="200")
    assert filtered == large


def test_row_facts(bea, hamish):
    bulk_organisations(bea, 5, admin=hamish)
    page = _page(bea)
    rows = {r.organisation.name: r for r in page.rows}
    connected = rows["Client 0000"]
    assert connected.status.words == "Connected" and connected.status.colour == "ok"
    assert connected.role == Role.ADMIN and connected.tenant_name == "Client 0000 (Xero)"
    assert (connected.queued, connected.waiting, connected.failed) == (2, 1, 1)  # queued + exporting, waiting, failed
    assert connected.last_export_at is not None and connected.lists_refreshed_at is not None
    assert connected.refresh_token_age_days == 0
    assert connected.next_keepalive_at - connected.refresh_token_issued_at == timedelta(days=sel.keepalive_days())
    assert sum(connected.exports_per_day) == 1 and connected.exports_per_day[-1] == 1
    assert sum(connected.failures_per_day) == 1 and connected.failures_per_day[-2] == 1
    assert rows["Client 0002"].status.words == "Needs reconnect"
    assert rows["Client 0003"].status.words == "Not connected to Xero"
    assert rows["Client 0003"].refresh_token_age_days is None and rows["Client 0003"].tenant_name == ""
    assert rows["Client 0004"].status.words == "Removed in Xero"


def test_filters_search_and_sort(bea, hamish):
    bulk_organisations(bea, 10, admin=hamish)
    zebra = factories.make_organisation("Zebra Zinc", slug="zebra")
    factories.add_member(zebra, bea, Role.MEMBER)
    factories.make_connection(zebra)  # healthy, no failures
    assert _page(bea).total_organisations == 11
    attention = _page(bea, attention="1")
    assert "Zebra Zinc" not in [r.organisation.name for r in attention.rows]
    assert len(attention.rows) == 10  # every Client has a failed export
    assert attention.attention_total == 10
    not_connected = _page(bea, status="not_connected")
    assert {r.organisation.name for r in not_connected.rows} == {"Client 0003", "Client 0008"}
    members = _page(bea, role="member")
    assert all(r.role == Role.MEMBER for r in members.rows) and len(members.rows) == 6
    assert [r.organisation.name for r in _page(bea, q="zeb").rows] == ["Zebra Zinc"]
    assert _page(bea, sort="-name").rows[0].organisation.name == "Zebra Zinc"
    worst_first = _page(bea, sort="status").rows
    assert worst_first[0].status.code in ("needs_reconnect", "removed_in_xero")
    assert worst_first[-1].status.code == "connected"
    paged = _page(bea, per_page="25", page="1")
    assert paged.page.paginator.count == 11


def test_needs_attention_next_step_names_admins_for_members(bea, hamish):
    bulk_organisations(bea, 4, admin=hamish)
    page = _page(bea)
    steps = {r.organisation.name: r.next_step for r in page.attention_rows}
    assert steps["Client 0002"]["kind"] == "reconnect"  # bea is Admin of even ones
    assert steps["Client 0003"]["kind"] == "ask_admin"
    assert steps["Client 0003"]["label"] == "Ask Hamish Harbour (an Admin) to connect Xero."
    assert steps["Client 0001"]["kind"] == "review_failed"  # connected, but one failed export


def test_outsider_sees_nothing(bea, hamish, outsider):
    bulk_organisations(bea, 3, admin=hamish)
    page = _page(outsider)
    assert [r.organisation.slug for r in page.rows] == ["other"]


def test_keepalive_days_setting(settings):
    settings.XERO_REFRESH_KEEP_ALIVE_DAYS = 7
    assert sel.keepalive_days() == 7


def test_daily_activity_window_ignores_old_exports(bea):
    from xero_connect.models import DocumentType, ExportRecord, ExportState, SourceDocument

    org = factories.make_organisation("Solo")
    factories.add_member(org, bea, Role.ADMIN)
    now = timezone.now()
    for n, days_ago in enumerate([0, 0, 3, 29, 45]):
        doc = SourceDocument.objects.create(organisation=org, doc_type=DocumentType.BILL, number=f"B{n}",
                                            date=now.date())
        ExportRecord.objects.create(organisation=org, document=doc, doc_type=doc.doc_type, doc_date=doc.date,
                                    state=ExportState.EXPORTED, exported_at=now - timedelta(days=days_ago))
    exports, failures = sel.daily_activity([org.pk])[org.pk]
    assert len(exports) == 30 and sum(exports) == 4 and exports[-1] == 2 and exports[-4] == 1 and exports[0] == 1
    assert sum(failures) == 0
