"""Account mapping (#15): the host system's own categories, and what each one means in the Xero
organisation linked now.

A mapping belongs to the organisation AND to the Xero organisation (tenant) it was made for:
after a switch to another Xero organisation the old mappings stay as history and are never
used — the new one starts over (with suggestions). The account is kept as the list row (which
holds Xero's AccountID for that tenant) and sent by its current Code, so an account renumbered
in Xero keeps working after a refresh.
"""
from django.conf import settings
from django.db import models
from django.utils import timezone

from .lists import Account, TaxRate, TrackingOption
from .organisations import Organisation


class HostCategory(models.Model):
    """One of the host system's categories, by the host's own code (e.g. COFFEE-WHOLESALE)."""

    class Kind(models.TextChoices):
        SALES = "sales", "Sales category"
        PURCHASE = "purchase", "Purchase category"
        TAX_CODE = "tax_code", "Tax code"
        PAYMENT_METHOD = "payment_method", "Payment method"
        DIMENSION = "dimension", "Dimension"

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="host_categories")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    code = models.CharField(max_length=100, help_text="The host system's own code, verbatim.")
    name = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organisation", "kind", "code"], name="uniq_host_category")]
        ordering = ["kind", "code"]
        verbose_name_plural = "host categories"

    def __str__(self):
        return f"{self.code} ({self.get_kind_display().lower()})"


class CategoryMapping(models.Model):
    """What a host category means in one Xero organisation (tenant).

    - sales / purchase category → an account (and optionally the tax rate used when a line
      names no tax code);
    - tax code → a tax rate;
    - payment method → an account that accepts payments (BANK, or EnablePaymentsToAccount);
    - dimension → a tracking option.
    `is_suggestion` is True while a suggested default waits for a person to confirm it; a
    suggestion is never used for an export. `problem` is set when the chart changed under a
    confirmed mapping (the account was archived or deleted, the tax rate is gone)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    tenant_id = models.CharField(max_length=64, help_text="The Xero organisation this mapping was made for.")
    category = models.ForeignKey(HostCategory, on_delete=models.CASCADE, related_name="mappings")
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    tax_rate = models.ForeignKey(TaxRate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    tracking_option = models.ForeignKey(TrackingOption, null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="+")
    is_suggestion = models.BooleanField(default=False)
    confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    confirmed_at = models.DateTimeField(null=True, blank=True)
    problem = models.CharField(max_length=300, blank=True)
    flagged_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["category", "tenant_id"], name="uniq_mapping_tenant")]
        indexes = [models.Index(fields=["organisation", "tenant_id"])]

    def __str__(self):
        return f"{self.category} → {self.account or self.tax_rate or self.tracking_option or '—'}"
