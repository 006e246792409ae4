"""API keys: who is calling (authentication), that someone is (permission), how often
(throttling), and which organisations the key reaches (scoping: 404 outside, as pages do)."""
from datetime import timedelta

from django.conf import settings
from django.http import Http404
from django.utils import timezone
from rest_framework import exceptions, permissions, throttling
from rest_framework.authentication import BaseAuthentication
from rest_framework_api_key.permissions import KeyParser

from ..models import APIKey, Organisation
from . import schema  # noqa: F401  (registers the API-key scheme with drf-spectacular)

KEYWORD = "Api-Key"
# last_used_at is written at most this often per key (one UPDATE, not one per request).
LAST_USED_RESOLUTION = timedelta(seconds=60)


class APIKeyAuthentication(BaseAuthentication):
    """`Authorization: Api-Key <key>`. Unknown, revoked or expired keys answer 401."""

    def authenticate(self, request):
        key = KeyParser().get(request)
        if not key:
            return None
        try:
            api_key = APIKey.objects.get_from_key(key)
        except APIKey.DoesNotExist:
            raise exceptions.AuthenticationFailed("This API key is not valid: it is unknown or was revoked.")
        if api_key.has_expired:
            raise exceptions.AuthenticationFailed(f"This API key expired on {api_key.expiry_date:%Y-%m-%d %H:%M} UTC.")
        now = timezone.now()
        if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
            APIKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        return api_key.actor, api_key

    def authenticate_header(self, request):
        return KEYWORD


class HasAPIKey(permissions.BasePermission):
    def has_permission(self, request, view):
        return isinstance(request.auth, APIKey)


class IsPlatformKey(permissions.BasePermission):
    message = "Only a platform key may do this."

    def has_permission(self, request, view):
        return isinstance(request.auth, APIKey) and request.auth.is_platform


class APIKeyRateThrottle(throttling.SimpleRateThrottle):
    """Requests per minute per key (the key's own rate, else API_RATE_PER_MINUTE); 429 with
    Retry-After beyond."""

    scope = "api_key"

    def get_rate(self):
        return f"{settings.API_RATE_PER_MINUTE}/min"

    def allow_request(self, request, view):
        api_key = request.auth
        if isinstance(api_key, APIKey):
            self.num_requests = api_key.rate_per_minute or settings.API_RATE_PER_MINUTE
            self.duration = 60
        return super().allow_request(request, view)

    def get_cache_key(self, request, view):
        if not isinstance(request.auth, APIKey):
            return None
        return f"throttle_api_key_{request.auth.prefix}"


def organisations_for_key(api_key: APIKey):
    """The organisations a key reaches, as a queryset."""
    if not api_key.is_platform:
        return Organisation.objects.filter(pk=api_key.organisation_id)
    if api_key.organisations.exists():
        return Organisation.objects.filter(pk__in=api_key.organisations.values("pk"))
    return Organisation.objects.all()


def organisation_for_key(api_key: APIKey, slug: str) -> Organisation:
    """The organisation `slug` if the key reaches it; Http404 otherwise (missing or not the key's)."""
    organisation = organisations_for_key(api_key).filter(slug=slug).first()
    if organisation is None:
        raise Http404("No such organisation.")
    return organisation
