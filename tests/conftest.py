import pytest

from xero_connect.models import Role

from . import factories


@pytest.fixture
def org(db):
    return factories.make_organisation("Acme Widgets", slug="acme")


@pytest.fixture
def other_org(db):
    return factories.make_organisation("Other Co", slug="other")


@pytest.fixture
def admin_user(org):
    user = factories.make_user("alice", first_name="Alice", last_name="Admin")
    factories.add_member(org, user, Role.ADMIN)
    return user


@pytest.fixture
def member_user(org):
    user = factories.make_user("mark", first_name="Mark", last_name="Member")
    factories.add_member(org, user, Role.MEMBER)
    return user


@pytest.fixture
def outsider(other_org):
    user = factories.make_user("olga", first_name="Olga", last_name="Outsider")
    factories.add_member(other_org, user, Role.ADMIN)
    return user


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def member_client(client, member_user):
    client.force_login(member_user)
    return client
