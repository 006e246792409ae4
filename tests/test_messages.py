"""The one module for words: one name per state everywhere, next steps that fit the reader,
and each shared sentence written once."""
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from xero_connect import messages as words
from xero_connect.connection_states import NOT_CONNECTED
from xero_connect.models import ConnectionEvent, ConnectionStatus
from xero_connect.selectors.connections import PRESENTATION
from xero_connect.xero import errors

ROOT = Path(__file__).resolve().parents[1]
SITUATIONS = ["working", "not_connected", "needs_reconnect", "removed_in_xero", "connected_here_not_there",
              "missing_scopes", "rate_limited", "xero_down", "app_refused"]


def test_each_state_has_one_name_in_the_pill_the_model_and_the_history():
    for code in (ConnectionStatus.CONNECTED, ConnectionStatus.NEEDS_RECONNECT, ConnectionStatus.REMOVED_IN_XERO,
                 NOT_CONNECTED):
        name = words.STATE_NAMES[code]
        assert PRESENTATION[code].words == name
        assert ConnectionEvent.status_label(code) == name
        if code != NOT_CONNECTED:
            assert ConnectionStatus(code).label == name
    assert words.not_connected_message(ConnectionStatus.REMOVED_IN_XERO).title == "Removed in Xero"
    assert words.not_connected_message(ConnectionStatus.NEEDS_RECONNECT).title == "Needs reconnect"
    assert words.not_connected_message(NOT_CONNECTED).title == "Not connected to Xero"


@pytest.mark.parametrize("key", SITUATIONS)
def test_an_admin_is_never_told_to_ask_and_a_member_is_told_whom(key):
    admin = words.situation(key, tenant="Acme", is_admin=True, admin_names=["Alice Admin"])
    member = words.situation(key, tenant="Acme", is_admin=False, admin_names=["Alice Admin", "Zoe Zeal"])
    assert not re.search(r"\bask\b", admin["next_step"], re.I), admin["next_step"]
    if admin["action"] in ("connect", "reconnect"):
        assert admin["next_step"].startswith("Press ")
        assert member["action"] == "ask_admin"
        assert member["next_step"].startswith("Ask Alice Admin or Zoe Zeal (Admins) to ")
    else:
        assert member["action"] == admin["action"]


def test_xero_failures_are_worded_for_the_reader_when_known():
    for error in (errors.ReauthorisationRequired(), errors.ConnectionRevoked(), errors.AccessDenied("nope")):
        third_person = words.message_for(error)
        assert third_person.next_step.startswith("An Admin should press Reconnect")
        assert words.message_for(error, is_admin=True).next_step.startswith("Press Reconnect")
        asked = words.message_for(error, is_admin=False, admin_names=["Alice Admin"]).next_step
        assert asked.startswith("Ask Alice Admin (an Admin) to press Reconnect")
    assert words.ask_admins("reconnect", admin_names=[]) == "Ask your support team to press Reconnect."


def test_english_roles_scopes_and_times():
    assert words.role_phrase("admin") == "an Admin" and words.role_phrase("member") == "a Member"
    assert words.scope_words("openid accounting.contacts accounting.invoices") == [
        "confirm who signed in to Xero", "read and add contacts", "create and update invoices, bills and credit notes"]
    now = timezone.make_aware(datetime(2026, 11, 29, 22, 40))
    checked = now - timedelta(minutes=25)
    assert words.last_checked("connected", checked, now=now) == f"Working when last checked at {timezone.localtime(checked):%H:%M}."
    assert words.last_checked("connected", None, now=now) == "Connected; not checked with Xero yet."
    assert words.last_checked("removed_in_xero", checked, now=now).startswith("Removed in Xero when last checked at")
    assert words.job_name("export_selected", total=1) == "Export"
    assert words.job_name("export_selected", total=3) == "Export selected"
    assert words.refresh_name("connect") == "Imports after connecting"


def test_shared_sentences_are_written_once():
    """Pages, emails and services take these sentences from messages.py; nobody retypes them."""
    sources = [p for p in (ROOT / "xero_connect").rglob("*.py") if "migrations" not in p.parts] + \
        list((ROOT / "templates").rglob("*.html")) + list((ROOT / "templates").rglob("*.txt"))
    for sentence in ("no longer accepts this connection's sign-in", "Not connected to Xero", "Removed in Xero",
                     "Needs reconnect", "An Admin needs to reconnect", "Your organisations", "All organisations",
                     "This organisation is not connected to Xero", "You cancelled the sign-in to Xero",
                     "Xero refused the sign-in.", "Connect Xero first: the mapping is made against",
                     "Check exported documents in Xero (voided", "Save it as “CSV UTF-8”", "Nothing has happened yet"):
        holders = [p.relative_to(ROOT).as_posix() for p in sources
                   if sentence in p.read_text(encoding="utf-8") and p.name != "messages.py"]
        assert holders == [], (sentence, holders)
