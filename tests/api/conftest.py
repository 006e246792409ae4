import pytest
from rest_framework.test import APIClient

from xero_connect.models import APIKey
from xero_connect.services.api_keys import api_key_prepare

from .. import factories


def make_key(*, organisation=None, name="Inventory system", organisations=(), **fields):
    api_key = APIKey(organisation=organisation, name=name, **fields)
    key = api_key_prepare(api_key)
    if organisations:
        api_key.organisations.set(organisations)
    return api_key, key


def client_for(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


@pytest.fixture
def org_key(org):
    return make_key(organisation=org)


@pytest.fixture
def api(org_key):
    """The organisation key's client (reaches `org` only)."""
    return client_for(org_key[1])


@pytest.fixture
def other_api(other_org):
    return client_for(make_key(organisation=other_org, name="Other system")[1])


@pytest.fixture
def platform_api(db):
    return client_for(make_key(name="Vendor platform")[1])


@pytest.fixture
def connected(org):
    return factories.make_connection(org, tenant_name="Acme Xero")
