"""Webhooks out: where the host wants to hear about changes, and every delivery with its attempts.

An endpoint belongs to one organisation (made by its Admins, on the page or by API) or, with
``organisation`` empty, is platform-wide (made by staff in the admin; it hears every organisation).
"""
from django.conf import settings
from django.db import models
from django.utils import timezone

from .fields import EncryptedTextField
from .organisations import Organisation


class WebhookEvent(models.TextChoices):
    DOCUMENT_EXPORTED = "document.exported", "A document is in Xero"
    DOCUMENT_FAILED = "document.failed", "A document failed to export"
    DOCUMENT_WAITING = "document.waiting", "A document waits for the Xero connection"
    DOCUMENT_CHANGED_IN_XERO = ("document.changed_in_xero",
                                "An exported document was paid, changed, voided or deleted in Xero")
    CONNECTION_STATUS_CHANGED = "connection.status_changed", "The Xero connection's status changed"
    LISTS_REFRESHED = "lists.refreshed", "Lists were refreshed from Xero"


class WebhookEndpoint(models.Model):
    organisation = models.ForeignKey(Organisation, null=True, blank=True, on_delete=models.CASCADE,
                                     related_name="webhook_endpoints",
                                     help_text="Empty for a platform-wide endpoint (every organisation).")
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list, blank=True, help_text="Event types to send; empty = all.")
    secret_encrypted = EncryptedTextField(blank=False)  # Sealed: assign the secret, read it with get_secret()
    is_active = models.BooleanField(default=True)
    disabled_reason = models.TextField(blank=True)
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return self.url

    def get_secret(self) -> str:
        """Raises crypto.TokenDecryptionError when no configured key opens it."""
        return self.secret_encrypted.reveal()

    def event_choices(self) -> list[tuple[str, str]]:
        """[(event code, its words)] of the events it hears, in WebhookEvent's order; [] = all."""
        return [(value, label) for value, label in WebhookEvent.choices if value in self.events]

    def wants(self, event_type: str) -> bool:
        return not self.events or event_type in self.events


class WebhookDelivery(models.Model):
    """One event for one endpoint, tried until the endpoint answers 2xx or the schedule ends."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Gave up"

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    organisation = models.ForeignKey(Organisation, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    message_id = models.CharField(max_length=64, unique=True, help_text="webhook-id: the same on every attempt.")
    event_type = models.CharField(max_length=50, choices=WebhookEvent.choices)
    payload = models.JSONField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["status", "next_attempt_at"]), models.Index(fields=["endpoint", "status"])]

    def __str__(self):
        return f"{self.get_event_type_display()} ({self.message_id})"


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-at", "-id"]
