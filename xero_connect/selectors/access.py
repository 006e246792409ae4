"""Look-ups of tenant data, always inside organisations the actor belongs to.

Anything outside answers 404 (Http404), never 403: a user of one organisation must not
learn that another organisation's object exists.
"""
from django.http import Http404

from ..models import Membership, Organisation


def membership_for(*, user, organisation_slug: str) -> Membership:
    if not getattr(user, "is_authenticated", False):
        raise Http404("No such organisation.")
    membership = (
        Membership.objects.select_related("organisation")
        .filter(user=user, organisation__slug=organisation_slug)
        .first()
    )
    if membership is None:
        raise Http404("No such organisation.")
    return membership


def organisations_for(*, user):
    if not getattr(user, "is_authenticated", False):
        return Organisation.objects.none()
    return Organisation.objects.filter(memberships__user=user)


def get_scoped_or_404(queryset, *, organisation: Organisation, **lookup):
    obj = queryset.filter(organisation=organisation, **lookup).first()
    if obj is None:
        raise Http404("Not found in this organisation.")
    return obj
