"""The host system's API: its keys and the answers it remembers for Idempotency-Key.

An **organisation key** (``organisation`` set) reaches that organisation only; a **platform
key** (``organisation`` empty, made by platform staff in the Django admin) reaches every
organisation, or only ``organisations`` when that set is not empty. Keys are hashed at rest by
djangorestframework-api-key; the full key is shown once, the ``prefix`` stays visible.

Every change made with a key is recorded with the key's name as actor: each key has its own
``actor`` user (never able to sign in) whose display name is the key's name, so the audit rows,
ledger columns and job lists that already name a user name the key.
"""
from django.conf import settings
from django.db import models
from rest_framework_api_key.models import AbstractAPIKey

from .organisations import Organisation


class APIKey(AbstractAPIKey):
    organisation = models.ForeignKey(Organisation, null=True, blank=True, on_delete=models.CASCADE,
                                     related_name="api_keys",
                                     help_text="Empty for a platform key (made by platform staff).")
    organisations = models.ManyToManyField(Organisation, blank=True, related_name="+",
                                           help_text="Platform keys only: the organisations it reaches "
                                                     "(empty = every organisation).")
    actor = models.OneToOneField(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="api_key", editable=False,
                                 help_text="The user changes made with this key are recorded as.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    rate_per_minute = models.PositiveIntegerField(null=True, blank=True,
                                                  help_text="Requests per minute (empty: API_RATE_PER_MINUTE).")

    class Meta(AbstractAPIKey.Meta):
        abstract = False
        verbose_name = "API key"
        verbose_name_plural = "API keys"

    @property
    def is_platform(self) -> bool:
        return self.organisation_id is None

    @property
    def is_live(self) -> bool:
        """Neither revoked nor expired: the key still authenticates."""
        return not self.revoked and not self.has_expired

    def reaches(self, organisation: Organisation) -> bool:
        """Whether the key may act on `organisation`: an organisation key its own only, a
        platform key its `organisations` (every organisation when that set is empty). One
        query for a platform key, none for an organisation key."""
        if not self.is_platform:
            return self.organisation_id == organisation.pk
        chosen = self.organisations.all()
        return not chosen.exists() or chosen.filter(pk=organisation.pk).exists()


class IdempotentRequest(models.Model):
    """The first answer to a request sent with an ``Idempotency-Key`` header, replayed for
    API_IDEMPOTENCY_HOURS to the same key with the same body (status ``None`` while running)."""

    api_key = models.ForeignKey(APIKey, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64, help_text="sha256 of method, path and body.")
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["api_key", "key"], name="uniq_idempotency_key_per_api_key")]
        indexes = [models.Index(fields=["created_at"])]
