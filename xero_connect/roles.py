"""The one place that answers permission questions about organisations."""
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import models

from .models import APIKey, Membership, Organisation, Role


class Action(models.TextChoices):
    VIEW = "view", "see the organisation"
    EXPORT = "export", "export documents"
    REFRESH_LISTS = "refresh_lists", "refresh lists"
    DIAGNOSE = "diagnose", "diagnose the connection"
    CONNECT = "connect", "connect Xero"
    RECONNECT = "reconnect", "reconnect Xero"
    DISCONNECT = "disconnect", "disconnect Xero"
    SWITCH_TENANT = "switch_tenant", "switch the linked Xero organisation"
    IMPORT_DOCUMENTS = "import_documents", "import documents"
    REEXPORT = "reexport", "re-export documents already in Xero"
    RESOLVE_DRIFT = "resolve_drift", "act on documents changed in Xero"
    MAP = "map", "change the account mapping"
    MANAGE_API_KEYS = "manage_api_keys", "manage API keys and webhooks"


_MEMBER_ACTIONS = {Action.VIEW, Action.EXPORT, Action.REFRESH_LISTS, Action.DIAGNOSE}
PERMISSIONS: dict[str, frozenset[str]] = {
    Role.ADMIN: frozenset(Action.values),
    Role.MEMBER: frozenset(_MEMBER_ACTIONS),
}
ADMIN_ONLY_ACTIONS = frozenset(Action.values) - frozenset(_MEMBER_ACTIONS)
# What platform staff may do to any organisation from the Django admin (not from the
# organisation's own pages, where membership rules apply to everyone).
STAFF_ACTIONS = frozenset({Action.DISCONNECT, Action.DIAGNOSE, Action.REFRESH_LISTS, Action.EXPORT,
                           Action.MANAGE_API_KEYS})
# What an API key may do inside the organisations it reaches, checked by the services
# (`require_actor`) like a person's role: the work the API offers. A key is made by an Admin
# (MANAGE_API_KEYS), who may revoke it; its webhook endpoints are managed under MANAGE_API_KEYS.
# Connecting, reconnecting, switching and disconnecting Xero need a person signing in to Xero,
# so no key may do them. A key never signs in to the pages (its actor user is inactive).
API_KEY_ACTIONS = frozenset(Action.values) - frozenset(
    {Action.CONNECT, Action.RECONNECT, Action.DISCONNECT, Action.SWITCH_TENANT})


class AdminRequired(PermissionDenied):
    """Raised when someone who is not an Admin of the organisation tries an admin-only action.

    The 403 page names the organisation's admins to ask.
    """

    def __init__(self, *, organisation: Organisation, action: str):
        self.organisation = organisation
        self.action = action
        super().__init__(f"Only an Admin of {organisation.name} can {Action(action).label}.")


def role_of(*, user, organisation: Organisation) -> str | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return (
        Membership.objects.filter(user=user, organisation=organisation).values_list("role", flat=True).first()
    )


def role_allows(role: str | None, action: str) -> bool:
    return role is not None and action in PERMISSIONS.get(role, frozenset())


def can(*, user, organisation: Organisation, action: str, role: str | None = None) -> bool:
    role = role if role is not None else role_of(user=user, organisation=organisation)
    return role_allows(role, action)


def staff_may(*, user, action: str) -> bool:
    return bool(getattr(user, "is_active", False) and getattr(user, "is_staff", False) and action in STAFF_ACTIONS)


def require(*, user, organisation: Organisation, action: str, role: str | None = None,
            as_staff: bool = False) -> None:
    """Raise AdminRequired unless the user's role allows the action. `as_staff` (the Django
    admin's actions) also lets platform staff do STAFF_ACTIONS."""
    if as_staff and staff_may(user=user, action=action):
        return
    if not can(user=user, organisation=organisation, action=action, role=role):
        raise AdminRequired(organisation=organisation, action=action)


def api_key_of(actor) -> APIKey | None:
    """The API key whose actor user `actor` is (models/api.py: every key acts as its own
    inactive user), else None. No query for an active user (a person); at most one otherwise,
    none when the key was read first (the API's authentication reads `key.actor`)."""
    if actor is None or getattr(actor, "is_active", True) or not getattr(actor, "pk", None):
        return None
    try:
        return actor.api_key
    except APIKey.DoesNotExist:
        return None


def require_actor(*, actor, organisation: Organisation, action: str, as_staff: bool = False) -> None:
    """The services' check (docs/architecture.md "Who may"): a service that takes `actor=` and
    changes an organisation's data calls this first. `actor=None` is the app itself (a worker, a
    management command, a follow-up of a person's already-checked request) and passes; an API
    key's actor passes for API_KEY_ACTIONS while the key is live (not revoked, not expired) and
    reaches the organisation; a person must hold a role that allows `action` (or, with `as_staff`
    from the Django admin's doors, be active platform staff and `action` in STAFF_ACTIONS). Else
    AdminRequired (a PermissionDenied)."""
    if actor is None or (as_staff and staff_may(user=actor, action=action)):
        return
    api_key = api_key_of(actor)
    if api_key is None:
        require(user=actor, organisation=organisation, action=action)
    elif not (action in API_KEY_ACTIONS and api_key.is_live and api_key.reaches(organisation)):
        raise AdminRequired(organisation=organisation, action=action)


def admins_of(organisation: Organisation):
    User = get_user_model()
    return User.objects.filter(
        memberships__organisation=organisation, memberships__role=Role.ADMIN, is_active=True
    ).order_by("first_name", "last_name", "username")


def display_name(user) -> str:
    full = user.get_full_name() if hasattr(user, "get_full_name") else ""
    return full or user.get_username()


def admin_names(organisation: Organisation) -> list[str]:
    return [display_name(u) for u in admins_of(organisation)]
