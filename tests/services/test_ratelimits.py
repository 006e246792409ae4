"""The shared call budget: calls are spaced so no window of Xero's length holds more than the
limit, at most 5 at once per tenant, the daily cap, and a 429's Retry-After — all in the
database, so every process and machine sees the same budget."""
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from xero_connect.models import RateBudget
from xero_connect.services import ratelimits


@pytest.fixture(autouse=True)
def scaled_minute():
    # A 6-second "minute" with 60 calls: one call every 0.1 s (plus the 2% margin).
    with override_settings(XERO_LIMIT_MINUTE_SECONDS=6.0, XERO_LIMIT_TENANT_MINUTE=60, XERO_LIMIT_MARGIN=0.02):
        yield


def test_calls_are_spaced_evenly_so_no_window_can_hold_more_than_the_limit(db):
    starts = []
    for _ in range(4):
        r = ratelimits.reserve_call(tenant_id="t1", max_wait=5)
        assert r.ok
        starts.append(r.start_at)
        ratelimits.release_call(r)
    gaps = [(b - a).total_seconds() for a, b in zip(starts, starts[1:])]
    assert all(gap == pytest.approx(6.0 * 1.02 / 60, abs=1e-3) for gap in gaps)


def test_a_slot_further_away_than_the_caller_will_wait_is_not_booked(db):
    first = ratelimits.reserve_call(tenant_id="t1", max_wait=5)
    refused = ratelimits.reserve_call(tenant_id="t1", max_wait=0)
    assert first.ok and not refused.ok and refused.reason == "pacing"
    assert refused.retry_at == RateBudget.objects.get(scope="tenant:t1").next_call_at
    other_tenant = ratelimits.reserve_call(tenant_id="t2", max_wait=0)
    assert other_tenant.ok  # each tenant has its own minute


def test_at_most_five_calls_at_once_per_tenant_and_a_released_slot_is_free_again(db):
    with override_settings(XERO_LIMIT_MINUTE_SECONDS=0.001):
        held = [ratelimits.reserve_call(tenant_id="t1", max_wait=5) for _ in range(5)]
        assert all(r.ok for r in held)
        sixth = ratelimits.reserve_call(tenant_id="t1", max_wait=5)
        assert not sixth.ok and sixth.reason == "concurrent"
        ratelimits.release_call(held[0])
        assert ratelimits.reserve_call(tenant_id="t1", max_wait=5).ok


def test_a_lease_of_a_process_that_died_runs_out(db):
    with override_settings(XERO_LIMIT_MINUTE_SECONDS=0.001, XERO_LIMIT_TENANT_CONCURRENT=1):
        assert ratelimits.reserve_call(tenant_id="t1", max_wait=5).ok  # never released
        budget = RateBudget.objects.get(scope="tenant:t1")
        budget.leases = [{**budget.leases[0], "until": 0}]
        budget.save()
        assert ratelimits.reserve_call(tenant_id="t1", max_wait=5).ok


def test_a_429_blocks_the_tenant_until_retry_after(db):
    ratelimits.record_rate_limited(tenant_id="t1", retry_after=30, problem="minute")
    r = ratelimits.reserve_call(tenant_id="t1", max_wait=60)
    assert not r.ok and r.reason == "rate_limited"
    assert timezone.now() + timedelta(seconds=28) < r.retry_at <= timezone.now() + timedelta(seconds=30)
    assert ratelimits.reserve_call(tenant_id="t2", max_wait=60).ok
    ratelimits.record_rate_limited(tenant_id="t1", retry_after=10, problem="appminute")
    assert not ratelimits.reserve_call(tenant_id="t2", max_wait=60).ok  # the app limit stops everyone


def test_the_daily_cap_and_xeros_own_day_count_stop_calls_until_the_day_window_ends(db):
    with override_settings(XERO_LIMIT_MINUTE_SECONDS=0.001, XERO_LIMIT_TENANT_DAY=3):
        for _ in range(3):
            ratelimits.release_call(ratelimits.reserve_call(tenant_id="t1", max_wait=5))
        r = ratelimits.reserve_call(tenant_id="t1", max_wait=5)
        assert not r.ok and r.reason == "day"
    RateBudget.objects.filter(scope="tenant:t2").delete()
    with override_settings(XERO_LIMIT_MINUTE_SECONDS=0.001):
        ratelimits.release_call(ratelimits.reserve_call(tenant_id="t2", max_wait=5))
        RateBudget.objects.filter(scope="tenant:t2").update(reported_day_remaining=0)
        assert ratelimits.reserve_call(tenant_id="t2", max_wait=5).reason == "day"


def test_an_unused_slot_is_handed_back(db):
    r = ratelimits.reserve_call(tenant_id="t1", max_wait=5)
    ratelimits.release_call(r, used=False)
    again = ratelimits.reserve_call(tenant_id="t1", max_wait=0)
    # Without the hand-back, the next slot would be one interval (0.102 s) later.
    assert again.ok and again.start_at < r.start_at + timedelta(seconds=0.05)


def test_a_call_costs_one_statement_and_the_next_reservation_gives_the_last_one_back(db, django_assert_num_queries):
    from xero_connect.xero.http import Limits

    ratelimits.release_call(ratelimits.reserve_call(tenant_id="t1", max_wait=5))  # the rows exist from here on
    with django_assert_num_queries(1):
        first = ratelimits.reserve_call(tenant_id="t1", max_wait=5)
    with django_assert_num_queries(1):  # gives `first` back and books its headers, then books the next call
        second = ratelimits.reserve_call(tenant_id="t1", max_wait=5, release=first,
                                         limits=Limits(day_remaining=4321, minute_remaining=41))
    budget = RateBudget.objects.get(scope="tenant:t1")
    assert [lease["id"] for lease in budget.leases] == [second.lease_id]
    assert (budget.reported_day_remaining, budget.reported_minute_remaining) == (4321, 41)
    assert budget.day_count == 3 and budget.in_flight == 1
    with django_assert_num_queries(1):
        ratelimits.release_call(second, limits=Limits(day_remaining=4320, minute_remaining=40))
    budget.refresh_from_db()
    assert budget.leases == [] and budget.in_flight == 0 and budget.reported_day_remaining == 4320


def test_a_refused_reservation_still_gives_the_last_call_back(db):
    first = ratelimits.reserve_call(tenant_id="t1", max_wait=5)
    refused = ratelimits.reserve_call(tenant_id="t1", max_wait=0, release=first)  # the next slot is 0.1 s away
    assert not refused.ok and refused.reason == "pacing"
    assert ratelimits.budget_snapshot(tenant_id="t1")["in_flight"] == 0


@pytest.mark.django_db(transaction=True)
def test_workers_reserving_at_once_never_share_a_slot_nor_exceed_the_concurrent_limit():
    """Threads (each its own database connection) call the same tenant at once, each call
    lasting several spacings: every booked start is at least one spacing after the one before,
    and never more than the concurrent limit (3 here) are in flight at once."""
    import threading
    import time

    from django.db import connection as db_connection

    ratelimits.release_call(ratelimits.reserve_call(tenant_id="t1", max_wait=5))
    calls, refusals, errors, lock = [], [], [], threading.Lock()

    def worker():
        try:
            done = 0
            for _ in range(400):  # bounded: asks until it has made its 4 calls
                r = ratelimits.reserve_call(tenant_id="t1", max_wait=60)
                if not r.ok:
                    with lock:
                        refusals.append(r.reason)
                    time.sleep(min(r.wait_seconds(), 0.05) or 0.01)
                    continue
                time.sleep(r.wait_seconds())
                began = time.monotonic()
                time.sleep(0.4)  # the call: about four spacings
                with lock:
                    calls.append((r, began, time.monotonic()))
                ratelimits.release_call(r)
                done += 1
                if done == 4:
                    return
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            db_connection.close()

    with override_settings(XERO_LIMIT_TENANT_CONCURRENT=3):
        threads = [threading.Thread(target=worker) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    assert errors == [] and not any(t.is_alive() for t in threads)
    assert len(calls) == 24 and len({r.lease_id for r, _, _ in calls}) == 24
    starts = sorted(r.start_at for r, _, _ in calls)
    gaps = [(b - a).total_seconds() for a, b in zip(starts, starts[1:])]
    assert min(gaps) >= 6.0 * 1.02 / 60 - 1e-3
    most_at_once = max(sum(1 for _, b, e in calls if b <= began < e) for _, began, _ in calls)
    assert most_at_once <= 3 and "concurrent" in refusals  # the limit was reached, and held
    budget = RateBudget.objects.get(scope="tenant:t1")
    assert budget.day_count == 25 and budget.leases == []
