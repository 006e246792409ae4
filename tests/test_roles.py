from xero_connect import roles
from xero_connect.models import Role
from xero_connect.roles import Action

from . import factories


def test_admin_may_do_everything_member_may_not_connect(org, admin_user, member_user):
    for action in Action.values:
        assert roles.can(user=admin_user, organisation=org, action=action)
    for action in (Action.CONNECT, Action.RECONNECT, Action.DISCONNECT, Action.SWITCH_TENANT):
        assert not roles.can(user=member_user, organisation=org, action=action)
    for action in (Action.VIEW, Action.EXPORT, Action.REFRESH_LISTS, Action.DIAGNOSE):
        assert roles.can(user=member_user, organisation=org, action=action)


def test_non_members_may_do_nothing(org, outsider):
    assert not any(roles.can(user=outsider, organisation=org, action=a) for a in Action.values)


def test_admin_names_lists_only_active_admins_of_that_organisation(org, other_org, admin_user, member_user):
    second = factories.make_user("zoe", first_name="Zoe", last_name="Zeal")
    factories.add_member(org, second, Role.ADMIN)
    gone = factories.make_user("gone", first_name="Gone", last_name="Admin", is_active=False)
    factories.add_member(org, gone, Role.ADMIN)
    elsewhere = factories.make_user("ed", first_name="Ed", last_name="Elsewhere")
    factories.add_member(other_org, elsewhere, Role.ADMIN)
    assert roles.admin_names(org) == ["Alice Admin", "Zoe Zeal"]
