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
