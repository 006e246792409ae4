"""The bookkeeper portal. Grown by issue 7."""
from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from ..selectors.access import organisations_for


@login_required
def portal(request):
    organisations = organisations_for(user=request.user).order_by("name")
    return render(request, "xero_connect/portal/index.html", {"organisations": organisations})
