"""Small factories for tests: plain functions, explicit arguments, sensible defaults."""
import itertools
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from xero_connect import connection_states
from xero_connect.models import Membership, Organisation, Role, XeroConnection

_seq = itertools.count(1)
PASSWORD = "test-pass-123"


def make_user(username=None, *, first_name="", last_name="", password=PASSWORD, **extra):
    n = next(_seq)
    User = get_user_model()
    user = User.objects.create_user(username=username or f"user{n}", password=password,
                                    first_name=first_name, last_name=last_name, email=f"user{n}@example.com", **extra)
    return user


def make_organisation(name=None, *, slug=None, base_currency="NZD"):
    n = next(_seq)
    name = name or f"Organisation {n}"
    return Organisation.objects.create(name=name, slug=slug or f"org-{n}", base_currency=base_currency)


def add_member(organisation, user, role=Role.MEMBER):
    return Membership.objects.create(organisation=organisation, user=user, role=role)


def make_connection(organisation, *, actor=None, tenant_id=None, access_token="access-token",
                    refresh_token="refresh-token", expires_in=1800, status=None, **fields):
    n = next(_seq)
    connection = XeroConnection(
        organisation=organisation, tenant_id=tenant_id or f"tenant-{n}", tenant_name=fields.pop("tenant_name", f"Xero Org {n}"),
        xero_connection_id=fields.pop("xero_connection_id", f"00000000-0000-4000-9000-{n:012d}"), connected_by=actor, **fields,
    )
    connection.set_tokens(access_token=access_token, refresh_token=refresh_token,
                          expires_at=timezone.now() + timedelta(seconds=expires_in))
    connection_states.establish(connection, actor=actor)
    if status == "needs_reconnect":
        connection_states.mark_needs_reconnect(connection, reason="test")
    elif status == "removed_in_xero":
        connection_states.mark_removed_in_xero(connection, reason="test")
    return connection
