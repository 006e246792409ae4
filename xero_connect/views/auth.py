"""Sign-in with Django's auth views, throttled by django-axes per username and per client
address (AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]: either reaching the limit stops
sign-in; a success resets nothing, so one account's successes never clear an address's count).

Axes checks the count before the password and records a failure after it; two attempts at once
could both pass the check. So each attempt first takes the SignInGate rows of its username and
its address (an UPDATE inside one transaction that also holds the password check and Axes'
failure record): attempts for the same username or address are checked one at a time, each
against the failures of all before it."""
from django.contrib.auth import views as auth_views
from django.db import transaction
from django.utils import timezone

from ..models import SignInGate


def axes_username(request, credentials) -> str:
    """The username Axes counts by: trimmed and case-folded, as people type it."""
    value = (credentials or {}).get("username") or request.POST.get("username") or ""
    return str(value).strip().casefold()[:150]


def client_address(request) -> str:
    """REMOTE_ADDR only: behind a proxy, the WSGI server sets it from the trusted proxy's
    X-Forwarded-For (see README "Behind a proxy"); the header itself is never read here."""
    return request.META.get("REMOTE_ADDR", "")


def _gate(request) -> None:
    now = timezone.now()
    keys = sorted({f"user:{axes_username(request, None)}", f"addr:{client_address(request)}"})
    SignInGate.objects.bulk_create([SignInGate(key=k[:300]) for k in keys], ignore_conflicts=True)
    for key in keys:  # one at a time, in the same order everywhere: no deadlock
        SignInGate.objects.filter(key=key[:300]).update(touched_at=now)


class ThrottledLoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        with transaction.atomic():
            _gate(request)
            return super().post(request, *args, **kwargs)


LogoutView = auth_views.LogoutView


def lockout_response(request, original_response=None, credentials=None):
    """What Axes answers once the limit is reached: our page, 429, with the wait in minutes."""
    from django.conf import settings
    from django.shortcuts import render

    minutes = max(1, settings.LOGIN_THROTTLE_WINDOW // 60)
    return render(request, "registration/throttled.html", {"minutes": minutes}, status=429)
