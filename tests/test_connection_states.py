import pytest

from xero_connect import connection_states as cs
from xero_connect.models import ConnectionEvent, ConnectionStatus, XeroConnection

from . import factories


@pytest.fixture
def connection(org, admin_user):
    return factories.make_connection(org, actor=admin_user)


def test_establish_makes_the_connection_current_and_records_who(org, admin_user, connection):
    event = ConnectionEvent.objects.get(connection=connection)
    assert connection.is_current and connection.status == ConnectionStatus.CONNECTED
    assert (event.from_status, event.to_status, event.actor) == (cs.NOT_CONNECTED, "connected", admin_user)


@pytest.mark.parametrize("transition,expected", [
    (cs.mark_needs_reconnect, ConnectionStatus.NEEDS_RECONNECT),
    (cs.mark_removed_in_xero, ConnectionStatus.REMOVED_IN_XERO),
    (cs.disconnect, ConnectionStatus.DISCONNECTED),
])
def test_every_transition_leaves_an_event_with_from_and_to(connection, admin_user, transition, expected):
    before = ConnectionEvent.objects.count()
    transition(connection, actor=admin_user, reason="because")
    connection.refresh_from_db()
    event = ConnectionEvent.objects.latest("id")
    assert connection.status == expected
    assert ConnectionEvent.objects.count() == before + 1
    assert (event.from_status, event.to_status, event.reason, event.actor) == ("connected", expected, "because", admin_user)


def test_recovered_only_from_a_broken_state(connection):
    with pytest.raises(cs.IllegalTransition):
        cs.mark_recovered(connection, reason="already fine")
    cs.mark_needs_reconnect(connection, reason="invalid_grant")
    cs.mark_recovered(connection, reason="works again")
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.CONNECTED and connection.last_error == ""


def test_disconnected_is_final_and_illegal_transitions_are_refused(connection):
    cs.disconnect(connection, reason="admin disconnected")
    events = ConnectionEvent.objects.count()
    for transition in (cs.mark_needs_reconnect, cs.mark_removed_in_xero, cs.mark_recovered, cs.disconnect, cs.replace):
        with pytest.raises(cs.IllegalTransition):
            transition(connection, reason="nope")
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.DISCONNECTED and not connection.is_current
    assert ConnectionEvent.objects.count() == events


def test_reconnect_keeps_history_and_one_current_connection(org, admin_user, connection):
    cs.replace(connection, actor=admin_user)
    newer = factories.make_connection(org, actor=admin_user)
    assert XeroConnection.objects.filter(organisation=org).count() == 2
    assert list(XeroConnection.objects.filter(organisation=org, is_current=True)) == [newer]


def test_the_database_refuses_two_current_connections(org, connection):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        XeroConnection.objects.create(organisation=org, tenant_id="t2", is_current=True)
