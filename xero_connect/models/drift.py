"""What Xero tells us back: webhook events as received, and reconciliation runs.

The drift itself (a document's state in Xero as last seen) lives on ExportRecord."""
from django.db import models
from django.utils import timezone

from .organisations import Organisation


class XeroDrift(models.TextChoices):
    """An exported document's state in Xero as last seen, most telling first."""

    NOT_CHECKED = "", "Not checked"
    AS_SENT = "as_sent", "As sent"
    PAID = "paid", "Paid"
    CHANGED = "changed", "Changed"
    VOIDED = "voided", "Voided"
    DELETED = "deleted", "Deleted"


# The states that are a change someone should look at ("Changed in Xero" filter, portal count).
FLAGGED_DRIFT = (XeroDrift.CHANGED, XeroDrift.VOIDED, XeroDrift.DELETED)


class XeroWebhookEvent(models.Model):
    """One event of a signed webhook delivery from Xero (xero-webhooks.yaml WebhookEvent).

    Xero may deliver an event more than once and out of order: the unique key makes a second
    delivery a no-op, and the worker always reads the document's current state, so the order
    events are processed in does not matter."""

    class Outcome(models.TextChoices):
        PENDING = "", "Pending"
        APPLIED = "applied", "Applied"
        NOT_OURS = "not_ours", "No exported document or list of ours"
        FAILED = "failed", "Xero did not answer"

    tenant_id = models.CharField(max_length=64)
    resource_id = models.CharField(max_length=64)
    event_date = models.DateTimeField()
    event_type = models.CharField(max_length=20)
    event_category = models.CharField(max_length=20)
    resource_url = models.CharField(max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    # A worker works on the event until then (claimed in a short transaction, worked outside it).
    claimed_until = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant_id", "resource_id", "event_date", "event_type", "event_category"],
                                    name="uniq_xero_webhook_event"),
        ]
        indexes = [models.Index(fields=["processed_at", "received_at"])]
        ordering = ["event_date", "id"]

    def __str__(self):
        return f"{self.event_category} {self.event_type} {self.resource_id}"


class ReconciliationRun(models.Model):
    """One reconciliation of an organisation's exported documents against Xero: the documents
    changed in Xero since `modified_since` (If-Modified-Since), read page by page."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="reconciliation_runs")
    tenant_id = models.CharField(max_length=64)
    trigger = models.CharField(max_length=20, default="schedule")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    modified_since = models.DateTimeField(null=True, blank=True)
    ok = models.BooleanField(default=False)
    calls = models.PositiveIntegerField(default=0)
    seen = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    detail = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["organisation", "tenant_id", "ok", "started_at"])]
