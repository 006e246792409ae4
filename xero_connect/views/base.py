"""Helpers every organisation page uses: resolve the organisation from the URL inside the
user's memberships (404 outside them) and check the action's role (403 naming admins)."""
from functools import wraps

from django.contrib.auth.decorators import login_required

from .. import roles
from ..roles import Action
from ..selectors.access import membership_for


def organisation_view(action: str = Action.VIEW):
    """Decorate a view taking `org_slug`; sets request.organisation and request.membership."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapped(request, org_slug, *args, **kwargs):
            membership = membership_for(user=request.user, organisation_slug=org_slug)
            request.organisation = membership.organisation
            request.membership = membership
            roles.require(user=request.user, organisation=membership.organisation, action=action,
                          role=membership.role)
            return view(request, *args, **kwargs)

        wrapped.organisation_action = action
        return wrapped

    return decorator


def can(request, action: str) -> bool:
    return roles.role_allows(request.membership.role, action)
