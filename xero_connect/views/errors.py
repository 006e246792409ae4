from django.shortcuts import render

from .. import roles


def permission_denied(request, exception=None):
    """403 page. For admin-only actions it names the organisation's admins to ask."""
    organisation = getattr(exception, "organisation", None)
    context = {
        "message": str(exception) if exception and str(exception) else "You do not have permission to do that.",
        "organisation": organisation,
        "admin_names": roles.admin_names(organisation) if organisation else [],
    }
    return render(request, "403.html", context, status=403)


def page_not_found(request, exception=None):
    return render(request, "404.html", {}, status=404)


def server_error(request):
    return render(request, "500.html", {}, status=500)
