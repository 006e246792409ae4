from .selectors.access import organisations_for


def organisations(request):
    """The organisation switcher: the user's organisations (one query, lazily evaluated)."""
    user = getattr(request, "user", None)
    if not user or not user.is_authenticated:
        return {}
    return {
        "my_organisations": organisations_for(user=user).only("name", "slug").order_by("name"),
        "current_organisation": getattr(request, "organisation", None),
    }
