"""The budgeted client: every request holds a slot of the shared budget, Xero's remaining-limit
headers and 429s are booked by the client itself, and a call that cannot get a slot in time
is not sent at all."""
import pytest
import responses
from django.conf import settings
from django.test import override_settings

from tests import factories
from tests.fakes import (add_connections, add_organisation, add_token, calls_to, tenant,
                                                    token_body)
from xero_connect.models import RateBudget
from xero_connect.services import ratelimits, xero_access
from xero_connect.xero import errors

ORG_URL = f"{settings.XERO_API_URL}/Organisation"


@pytest.fixture(autouse=True)
def scaled_minute():
    with override_settings(XERO_LIMIT_MINUTE_SECONDS=6.0, XERO_LIMIT_TENANT_MINUTE=60, XERO_LIMIT_MARGIN=0.02):
        yield


def test_each_request_spends_a_slot_gives_it_back_and_books_the_limit_headers(org, rsps):
    conn = factories.make_connection(org)
    rsps.add(responses.GET, ORG_URL, status=200, json={"Organisations": [{"Name": "Acme", "ShortCode": "!abc12"}]},
             headers={"X-MinLimit-Remaining": "41", "X-DayLimit-Remaining": "4321"})
    api = xero_access.api_for(conn)
    api.organisation()
    api.organisation()
    snapshot = ratelimits.budget_snapshot(tenant_id=conn.tenant_id)
    assert snapshot["day_count"] == 2 and snapshot["in_flight"] == 0
    assert snapshot["reported_day_remaining"] == 4321
    assert RateBudget.objects.get(scope=f"tenant:{conn.tenant_id}").reported_minute_remaining == 41
    assert api.last_limits.minute_remaining == 41


def test_a_429_is_booked_once_and_then_nobody_calls_until_retry_after(org, rsps):
    conn = factories.make_connection(org)
    rsps.add(responses.GET, ORG_URL, status=429, json={}, headers={"Retry-After": "30",
                                                                   "X-Rate-Limit-Problem": "minute"})
    api = xero_access.api_for(conn, max_wait=1)
    with pytest.raises(errors.RateLimited) as refused:
        api.organisation()
    until = api.retry_at(refused.value)
    assert ratelimits.blocked_until(tenant_id=conn.tenant_id) == until
    # Another client of the same tenant (another worker) does not even ask Xero.
    with pytest.raises(xero_access.NoCallSlot) as no_slot:
        xero_access.api_for(conn, max_wait=1).organisation()
    assert no_slot.value.reason == "rate_limited" and no_slot.value.retry_at == until
    assert len([c for c in rsps.calls if c.request.url == ORG_URL]) == 1
    assert ratelimits.budget_snapshot(tenant_id=conn.tenant_id)["in_flight"] == 0


def test_a_held_slot_is_used_by_the_next_request_or_handed_back(org, rsps):
    conn = factories.make_connection(org)
    add_organisation(rsps)
    api = xero_access.api_for(conn)
    with api.call_slot():
        assert ratelimits.budget_snapshot(tenant_id=conn.tenant_id)["in_flight"] == 1
        api.organisation()
        assert ratelimits.budget_snapshot(tenant_id=conn.tenant_id)["in_flight"] == 0
    assert ratelimits.budget_snapshot(tenant_id=conn.tenant_id)["day_count"] == 1
    with api.call_slot():
        pass  # not used: the slot and its pacing go back
    snapshot = ratelimits.budget_snapshot(tenant_id=conn.tenant_id)
    assert snapshot["day_count"] == 1 and snapshot["in_flight"] == 0


def test_a_caller_with_a_short_wait_still_queues_behind_another_caller(org, rsps):
    """A list refresh holding the next slot must not turn an export's call into a reschedule:
    a slot a couple of call spacings away is always waited for."""
    conn = factories.make_connection(org)
    add_organisation(rsps)
    other = ratelimits.reserve_call(tenant_id=conn.tenant_id, max_wait=5)  # another worker's call
    assert other.ok
    xero_access.api_for(conn, max_wait=0).organisation()
    ratelimits.release_call(other)
    assert ratelimits.budget_snapshot(tenant_id=conn.tenant_id)["day_count"] == 2


def test_the_identity_connections_call_spends_a_slot_and_refreshes_once_on_401(org, rsps):
    conn = factories.make_connection(org, tenant_id="tenant-1")
    add_connections(rsps, {"Title": "Unauthorized"}, status=401)
    add_connections(rsps, [tenant(1)])
    add_token(rsps, token_body())
    granted = xero_access.granted_connections(conn)
    assert [c["tenantId"] for c in granted] == ["tenant-1"]
    assert len(calls_to(rsps, "GET", "connections")) == 2
    snapshot = ratelimits.budget_snapshot(tenant_id=conn.tenant_id)
    assert snapshot["day_count"] == 2 and snapshot["in_flight"] == 0


def test_the_identity_connections_call_is_not_sent_without_a_slot_and_books_a_429(org, rsps):
    conn = factories.make_connection(org, tenant_id="tenant-1")
    rsps.add(responses.GET, settings.XERO_CONNECTIONS_URL, status=429, json={},
                 headers={"Retry-After": "30", "X-Rate-Limit-Problem": "minute"})
    with pytest.raises(errors.RateLimited):
        xero_access.granted_connections(conn, max_wait=1)
    assert ratelimits.blocked_until(tenant_id=conn.tenant_id) is not None
    with pytest.raises(xero_access.NoCallSlot):
        xero_access.granted_connections(conn, max_wait=1)
    assert len(calls_to(rsps, "GET", "connections")) == 1
    assert xero_access.tenant_still_listed(conn) is None
