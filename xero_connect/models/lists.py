"""Lists imported from Xero. Upserted by Xero id; never deleted: items archived or deleted
in Xero are marked inactive, so documents and exported items that use them are untouched."""
from django.conf import settings
from django.db import models
from django.utils import timezone

from ..names import contact_name_key
from .connections import ByPersonMixin
from .organisations import Organisation


class ListItem(models.Model):
    """What we know of one item of a Xero organisation's list. Keyed by the Xero tenant as well
    as by our organisation: after a switch to another Xero organisation, the old one's items
    (and their ids) stay as history and are never used for the new one."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    tenant_id = models.CharField(max_length=64, blank=True, db_index=True,
                                 help_text="The Xero organisation (tenant id) this item belongs to.")
    is_active = models.BooleanField(default=True)
    status = models.CharField(max_length=20, blank=True, help_text="Xero's status, verbatim.")
    updated_in_xero_at = models.DateTimeField(null=True, blank=True)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True


class Account(ListItem):
    xero_id = models.CharField(max_length=64)
    code = models.CharField(max_length=20, blank=True)
    name = models.CharField(max_length=255)
    type = models.CharField(max_length=40, blank=True)
    account_class = models.CharField(max_length=20, blank=True)
    tax_type = models.CharField(max_length=50, blank=True)
    currency_code = models.CharField(max_length=3, blank=True)
    enable_payments = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organisation", "tenant_id", "xero_id"], name="uniq_account_tenant_xero_id")]
        indexes = [models.Index(fields=["organisation", "tenant_id", "code"])]
        ordering = ["code", "name"]

    def __str__(self):
        return f"{self.code} {self.name}".strip()


class Currency(ListItem):
    """The organisation's currency list, as kept by the currency import."""

    code = models.CharField(max_length=3)
    description = models.CharField(max_length=100, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organisation", "tenant_id", "code"], name="uniq_currency_tenant_code")]
        ordering = ["code"]
        verbose_name_plural = "currencies"

    def __str__(self):
        return self.code


class TaxRate(ListItem):
    tax_type = models.CharField(max_length=50)
    name = models.CharField(max_length=255)
    effective_rate = models.DecimalField(max_digits=9, decimal_places=4, null=True, blank=True)
    # Xero's CanApplyToRevenue / CanApplyToExpenses: the account classes the rate fits (#15).
    can_apply_to_revenue = models.BooleanField(default=True)
    can_apply_to_expenses = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organisation", "tenant_id", "tax_type"], name="uniq_tenant_tax_type")]
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} ({self.tax_type})"


class Contact(ListItem):
    xero_id = models.CharField(max_length=64)
    name = models.CharField(max_length=255)
    email = models.CharField(max_length=255, blank=True)
    is_supplier = models.BooleanField(default=False)
    is_customer = models.BooleanField(default=False)
    default_currency = models.CharField(max_length=3, blank=True)
    match_key = models.CharField(max_length=255, blank=True,
                                 help_text="The name as documents are matched to it (see names.contact_name_key).")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organisation", "tenant_id", "xero_id"], name="uniq_contact_tenant_xero_id")]
        indexes = [models.Index(fields=["organisation", "tenant_id", "match_key"])]
        ordering = ["name"]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        # The key is derived from the name; bulk writes (the importer) set it themselves.
        self.match_key = contact_name_key(self.name)[:255]
        if kwargs.get("update_fields") is not None and "name" in kwargs["update_fields"]:
            kwargs["update_fields"] = {*kwargs["update_fields"], "match_key"}
        super().save(*args, **kwargs)


class TrackingCategory(ListItem):
    xero_id = models.CharField(max_length=64)
    name = models.CharField(max_length=255)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organisation", "tenant_id", "xero_id"], name="uniq_tracking_tenant_xero_id")]
        ordering = ["name"]
        verbose_name_plural = "tracking categories"

    def __str__(self):
        return self.name


class TrackingOption(ListItem):
    category = models.ForeignKey(TrackingCategory, on_delete=models.CASCADE, related_name="options")
    xero_id = models.CharField(max_length=64)
    name = models.CharField(max_length=255)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["category", "xero_id"], name="uniq_tracking_option_xero_id")]
        ordering = ["name"]

    def __str__(self):
        return f"{self.category.name}: {self.name}"


class ListName(models.TextChoices):
    ACCOUNTS = "accounts", "Accounts"
    CURRENCIES = "currencies", "Currencies"
    TAX_RATES = "tax_rates", "Tax rates"
    CONTACTS = "contacts", "Contacts"
    TRACKING = "tracking", "Tracking categories"


class ListSyncState(models.Model):
    """Per organisation and list: when it was last refreshed, and the If-Modified-Since mark."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="list_sync_states")
    list_name = models.CharField(max_length=20, choices=ListName.choices)
    last_refreshed_at = models.DateTimeField(null=True, blank=True)
    modified_since = models.DateTimeField(null=True, blank=True,
                                          help_text="Largest UpdatedDateUTC seen; sent as If-Modified-Since.")
    tenant_id = models.CharField(max_length=64, blank=True,
                                 help_text="Tenant the mark belongs to; a new tenant means a full read.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organisation", "list_name"], name="uniq_list_sync_state")]


class ListRefresh(ByPersonMixin, models.Model):
    """One run of imports / Refresh lists, with per-list results shown to the user."""

    class Trigger(models.TextChoices):
        CONNECT = "connect", "After (re)connect"
        MANUAL = "manual", "Refresh lists"
        SCHEDULE = "schedule", "Scheduled"
        COMMAND = "command", "Command"
        BULK = "bulk", "Bulk action"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        PARTIAL = "partial", "Partly failed"
        FAILED = "failed", "Failed"

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="list_refreshes")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    by_person = models.BooleanField(default=False, help_text="A person made it (their account may since be "
                                                               "deleted); otherwise it was automatic.")
    trigger = models.CharField(max_length=20, choices=Trigger.choices, default=Trigger.MANUAL)
    lists = models.JSONField(default=list, help_text="List names requested.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    steps_total = models.PositiveIntegerField(default=0)
    steps_done = models.PositiveIntegerField(default=0)
    # {list_name: {"added": n, "updated": n, "archived": n, "unchanged": n, "error": str|None,
    #              "calls": n, "skipped": [{"code":..,"reason":..}], "added_items": [...]}}
    results = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "list refreshes"

    def __str__(self):
        return f"{self.organisation} lists {self.get_status_display()} {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def percent(self) -> int:
        return int(100 * self.steps_done / self.steps_total) if self.steps_total else 0
