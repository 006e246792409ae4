from django.conf import settings

from . import messages
from .selectors.access import organisations_for

SWITCHER_FIRST = 20  # the switcher's first suggestions; more come from organisations.json as the user types


def organisations(request):
    """The organisation switcher: the user's first organisations by name (bounded, one query,
    lazily evaluated) and the portal's one name."""
    names = {"product_name": settings.PRODUCT_NAME, "portal_name": messages.PORTAL_NAME}
    user = getattr(request, "user", None)
    if not user or not user.is_authenticated:
        return names
    return {
        **names,
        "my_organisations": organisations_for(user=user).only("name", "slug").order_by("name")[:SWITCHER_FIRST],
        "current_organisation": getattr(request, "organisation", None),
    }
