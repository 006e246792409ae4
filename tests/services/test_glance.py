"""Opening the status card: one GET /connections, cached, booked in the rate budget; a removal
on Xero's side moves the connection to "Removed in Xero" (and tells the admins once)."""
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from tests import factories
from tests.fakes import add_connections, calls_to, tenant
from xero_connect.models import ConnectionStatus, RateBudget, XeroConnection
from xero_connect.services import glance, ratelimits


@pytest.fixture
def conn(org, admin_user):
    cache.clear()
    return factories.make_connection(org, actor=admin_user, tenant_id="tenant-1", tenant_name="Acme NZ")


def test_listed_connection_is_checked_once_within_the_window(conn, rsps, settings):
    settings.XERO_GLANCE_SECONDS = 60
    add_connections(rsps, [tenant(1)])
    assert glance.connection_glance(conn) == "listed"
    assert glance.connection_glance(XeroConnection.objects.get(pk=conn.pk)) == "skipped"
    assert len(calls_to(rsps, "GET", "connections")) == 1
    checked = XeroConnection.objects.get(pk=conn.pk).last_health_check_at
    assert checked is not None and timezone.now() - checked < timedelta(seconds=5)
    # The call was booked in the tenant's budget (and its lease given back).
    budget = RateBudget.objects.get(scope=ratelimits.tenant_scope("tenant-1"))
    assert budget.day_count == 1 and budget.leases == []


def test_removal_in_xero_is_seen_and_recorded(conn, rsps, django_capture_on_commit_callbacks):
    add_connections(rsps, [tenant(2)])  # our tenant is gone from this app's connections
    with django_capture_on_commit_callbacks():
        assert glance.connection_glance(conn) == "removed"
    assert XeroConnection.objects.get(pk=conn.pk).status == ConnectionStatus.REMOVED_IN_XERO


def test_no_free_slot_means_no_call_and_the_last_known_state(conn, rsps, settings):
    ratelimits.record_rate_limited(tenant_id="tenant-1", retry_after=30, problem="minute")
    add_connections(rsps, [])
    assert glance.connection_glance(conn) == "skipped"
    assert calls_to(rsps, "GET", "connections") == []
    assert XeroConnection.objects.get(pk=conn.pk).status == ConnectionStatus.CONNECTED


def test_xero_not_answering_changes_nothing(conn, rsps):
    add_connections(rsps, {"Title": "Service Unavailable"}, status=503)
    assert glance.connection_glance(conn) == "unknown"
    assert XeroConnection.objects.get(pk=conn.pk).status == ConnectionStatus.CONNECTED


def test_opening_the_card_shows_the_removal(admin_client, org, conn, rsps, django_capture_on_commit_callbacks):
    add_connections(rsps, [])
    with django_capture_on_commit_callbacks():
        html = admin_client.get(reverse("organisation_home", args=[org.slug])).content.decode()
    assert "Removed in Xero when last checked at" in html and "Press Reconnect" in html
