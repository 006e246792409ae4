"""Contact names are matched by one key: case folded, NFC, whitespace collapsed."""
import unicodedata

import pytest

from xero_connect.names import contact_name_key


@pytest.mark.parametrize("a, b", [
    ("Cuba Street Café", "  cuba   STREET café "),
    ("Cuba Street Café", unicodedata.normalize("NFD", "Cuba Street Café")),
    ("Straße GmbH", "STRASSE gmbh"),
    ("Kōwhai\tCoffee", "kōwhai coffee"),
])
def test_the_same_contact_however_it_is_typed(a, b):
    assert contact_name_key(a) == contact_name_key(b)


@pytest.mark.parametrize("a, b", [("Cafe", "Café"), ("A B", "AB"), ("Acme Ltd", "Acme Limited")])
def test_different_names_stay_different(a, b):
    assert contact_name_key(a) != contact_name_key(b)


def test_empty():
    assert contact_name_key(None) == contact_name_key("   ") == ""
