"""The portal's 30-day picture (selectors.portal.daily_activity) counts by the day of the current
time zone, straight from the ledger's timestamps, however the ledger was written (issue #18: it
is read from indexes and keeps no copy that a writer could leave stale), in one query."""
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests import factories
from xero_connect.models import DocumentType, ExportAttempt, ExportRecord, ExportState, SourceDocument
from xero_connect.selectors import portal as sel

AUCKLAND = ZoneInfo("Pacific/Auckland")  # UTC+13 in March (daylight time)
TODAY = date(2026, 3, 10)


@pytest.fixture
def auckland(settings):
    settings.TIME_ZONE = "Pacific/Auckland"


def _local(*args):
    return datetime(*args, tzinfo=AUCKLAND)


def _record(org, n, *, exported_at=None, state=ExportState.EXPORTED):
    doc = SourceDocument.objects.create(organisation=org, doc_type=DocumentType.SALES_INVOICE, number=f"INV-{n}",
                                        date=TODAY, total=10)
    return ExportRecord.objects.create(organisation=org, document=doc, doc_type=doc.doc_type, doc_date=doc.date,
                                       state=state, exported_at=exported_at)


def test_days_are_the_local_days_not_utc_ones(db, auckland):
    org = factories.make_organisation("Kiwi Ltd")
    moments = [
        _local(2026, 3, 10, 0, 30),   # today, though still 9 March in UTC
        _local(2026, 3, 9, 23, 30),   # yesterday
        _local(2026, 3, 9, 23, 59),   # yesterday
        _local(2026, 2, 9, 0, 0),     # the first day of the 30
        _local(2026, 2, 8, 23, 59),   # before the window
        _local(2026, 3, 11, 0, 0),    # tomorrow: not drawn
    ]
    for n, moment in enumerate(moments):
        _record(org, n, exported_at=moment)
    _record(org, 99, exported_at=_local(2026, 3, 10, 9, 0), state=ExportState.FAILED)  # not an export
    exports, failures = sel.daily_activity([org.pk], today=TODAY)[org.pk]
    assert exports[29] == 1 and exports[28] == 2 and exports[0] == 1 and sum(exports) == 4
    assert failures == [0] * 30


def test_failed_attempts_are_drawn_by_local_day_and_only_real_failures(db, auckland):
    org = factories.make_organisation("Kiwi Ltd")
    record = _record(org, 1, state=ExportState.FAILED)
    for started_at, outcome in [
        (_local(2026, 3, 10, 0, 30), ExportAttempt.Outcome.VALIDATION_FAILED),
        (_local(2026, 3, 10, 8, 0), ExportAttempt.Outcome.PREFLIGHT_FAILED),
        (_local(2026, 3, 9, 23, 30), ExportAttempt.Outcome.ERROR),
        (_local(2026, 2, 20, 12, 0), ExportAttempt.Outcome.VALIDATION_FAILED),
        (_local(2026, 3, 10, 9, 0), ExportAttempt.Outcome.RATE_LIMITED),     # goes out by itself
        (_local(2026, 2, 8, 23, 0), ExportAttempt.Outcome.VALIDATION_FAILED),  # before the window
    ]:
        ExportAttempt.objects.create(record=record, started_at=started_at, outcome=outcome)
    exports, failures = sel.daily_activity([org.pk], today=TODAY)[org.pk]
    assert failures[29] == 2 and failures[28] == 1 and failures[11] == 1 and sum(failures) == 4
    assert exports == [0] * 30


def test_every_way_of_writing_the_ledger_shows_at_once(db, auckland):
    """Exports are marked in bulk (QuerySet.update, bulk_update), re-exported (exported_at moves)
    and reset (state leaves 'exported'): the picture follows each write with nothing to refresh."""
    org = factories.make_organisation("Kiwi Ltd")
    records = [_record(org, n, state=ExportState.QUEUED) for n in range(4)]
    ExportRecord.objects.filter(pk__in=[r.pk for r in records[:2]]).update(
        state=ExportState.EXPORTED, exported_at=_local(2026, 3, 1, 12, 0))
    for r in records[2:]:
        r.state, r.exported_at = ExportState.EXPORTED, _local(2026, 3, 10, 12, 0)
    ExportRecord.objects.bulk_update(records[2:], ["state", "exported_at"])
    exports, _ = sel.daily_activity([org.pk], today=TODAY)[org.pk]
    assert exports[20] == 2 and exports[29] == 2 and sum(exports) == 4

    ExportRecord.objects.filter(pk=records[0].pk).update(exported_at=_local(2026, 3, 10, 13, 0))  # re-export
    ExportRecord.objects.filter(pk=records[3].pk).update(state=ExportState.NOT_EXPORTED)            # reset
    exports, _ = sel.daily_activity([org.pk], today=TODAY)[org.pk]
    assert exports[20] == 1 and exports[29] == 2 and sum(exports) == 3


def test_the_picture_is_one_query_whatever_the_organisations(db, django_assert_num_queries):
    orgs = [factories.make_organisation() for _ in range(12)]
    for n, org in enumerate(orgs):
        _record(org, n, exported_at=datetime.now(tz=AUCKLAND) - timedelta(days=n))
    with django_assert_num_queries(1):
        one = sel.daily_activity([orgs[0].pk])
    with django_assert_num_queries(1):
        pictures = sel.daily_activity([o.pk for o in orgs])
    assert one[orgs[0].pk] == pictures[orgs[0].pk]
    assert sum(sum(exports) for exports, _ in pictures.values()) == 12
    with django_assert_num_queries(0):
        assert sel.daily_activity([]) == {}
