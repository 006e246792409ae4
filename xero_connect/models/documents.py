"""Source documents of the host system and the export ledger."""
from django.conf import settings
from django.db import models
from django.utils import timezone

from .connections import ByPersonMixin, XeroConnection
from .fields import TolerantDecimalField
from .organisations import Organisation


class DocumentType(models.TextChoices):
    SALES_INVOICE = "sales_invoice", "Sales invoices"
    BILL = "bill", "Bills"
    SALES_CREDIT_NOTE = "sales_credit_note", "Sales credit notes"
    PURCHASE_CREDIT_NOTE = "purchase_credit_note", "Purchase credit notes"
    PAYMENT = "payment", "Payments"
    MANUAL_JOURNAL = "manual_journal", "Manual journals"


class SourceDocument(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="documents")
    doc_type = models.CharField(max_length=30, choices=DocumentType.choices)
    number = models.CharField(max_length=255, help_text="Xero's InvoiceNumber takes 255 characters.")
    reference = models.CharField(max_length=255, blank=True)
    date = models.DateField()
    due_date = models.DateField(null=True, blank=True)
    contact_name = models.CharField(max_length=255, blank=True)
    currency_code = models.CharField(max_length=3, blank=True)
    line_amount_types = models.CharField(max_length=20, default="Exclusive")
    total = TolerantDecimalField(max_digits=14, decimal_places=2, default=0)
    # Manual journals
    narration = models.TextField(blank=True)
    # Payments: the exported invoice/bill it pays, the bank account code, the amount (total).
    paid_document = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="payments")
    payment_account_code = models.CharField(max_length=20, blank=True)
    # Or the host's payment method (a HostCategory code), resolved by the mapping (#15).
    payment_method = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organisation", "doc_type", "number"], name="uniq_document_number"),
        ]
        indexes = [
            models.Index(fields=["organisation", "doc_type", "date"]),
            # Issue #18: the admin's changelist (newest first) and its search by exact number.
            models.Index(fields=["date", "id"], name="sourcedocument_date_idx"),
            models.Index(fields=["number"], name="sourcedocument_number_idx"),
        ]
        ordering = ["-date", "number"]

    def __str__(self):
        return f"{self.get_doc_type_display()[:-1]} {self.number}"

    @property
    def total_excludes_tax(self) -> bool:
        """`total` is the sum of the lines as entered: for an invoice, bill or credit note whose
        amounts exclude tax (LineAmountTypes Exclusive) that is before tax, not Xero's Total."""
        return self.line_amount_types == "Exclusive" and self.doc_type not in (
            DocumentType.PAYMENT, DocumentType.MANUAL_JOURNAL)


class DocumentLine(models.Model):
    document = models.ForeignKey(SourceDocument, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField(default=0)
    description = models.CharField(max_length=4000, blank=True)
    quantity = TolerantDecimalField(max_digits=14, decimal_places=4, default=1)
    unit_amount = TolerantDecimalField(max_digits=14, decimal_places=4, default=0)
    # For manual journals: signed amount (debit positive, credit negative).
    line_amount = TolerantDecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    account_code = models.CharField(max_length=20, blank=True)
    tax_type = models.CharField(max_length=50, blank=True)
    # [{"category": "Region", "option": "North"}]
    tracking = models.JSONField(default=list, blank=True)
    # Host categories instead of Xero codes (#15): resolved by the mapping before each export.
    category = models.CharField(max_length=100, blank=True)
    tax_code = models.CharField(max_length=100, blank=True)
    dimension = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["position", "id"]


class ExportState(models.TextChoices):
    NOT_EXPORTED = "not_exported", "Not exported"
    QUEUED = "queued", "Queued"
    EXPORTING = "exporting", "Exporting"
    EXPORTED = "exported", "Exported"
    FAILED = "failed", "Failed"
    WAITING_FOR_CONNECTION = "waiting", "Waiting for connection"
    NEEDS_MAPPING = "needs_mapping", "Needs mapping"


class ExportRecord(models.Model):
    """The ledger: one row per document, saying where it stands with Xero."""

    # No index of its own: every composite index of the ledger starts with the organisation (the
    # claim's, the pages', the day counts'), and each index is one more entry every write pays.
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="export_records",
                                     db_index=False)
    document = models.OneToOneField(SourceDocument, on_delete=models.CASCADE, related_name="export_record")
    # Copied from the document so the Export Data page filters on one indexed table.
    doc_type = models.CharField(max_length=30, choices=DocumentType.choices)
    doc_date = models.DateField()
    state = models.CharField(max_length=20, choices=ExportState.choices, default=ExportState.NOT_EXPORTED)
    xero_id = models.CharField(max_length=64, blank=True)
    tenant_id = models.CharField(max_length=64, blank=True)
    connection = models.ForeignKey(XeroConnection, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    exported_at = models.DateTimeField(null=True, blank=True)
    exported_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    queued_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    queued_at = models.DateTimeField(null=True, blank=True)
    # Update an existing Xero document on re-export instead of creating one.
    update_existing = models.BooleanField(default=False)
    last_error = models.TextField(blank=True)
    attempts_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Idempotency: the key sent with the write that is (or was last) in flight.
    idempotency_key = models.CharField(max_length=128, blank=True)
    payload_hash = models.CharField(max_length=64, blank=True)
    # Bumped each time a person asks again (Export, Retry, Re-export): part of the
    # Idempotency-Key, so an automatic retry after a timeout or crash reuses the key while a
    # deliberate new attempt is a new request for Xero.
    generation = models.PositiveIntegerField(default=0)
    # A write for this record may have reached Xero without an answer (timeout, dropped
    # connection, worker died mid-call): look it up in Xero before sending it again.
    in_doubt = models.BooleanField(default=False)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=100, blank=True)
    # Look-ups of an in-doubt record that Xero did not answer usefully, in a row (bounded by
    # XERO_EXPORT_MAX_ATTEMPTS; an outage is waited out instead, see xero_unavailable_since).
    lookups_failed = models.PositiveIntegerField(default=0)
    # Set while the record waits because Xero is unavailable (503 maintenance, organisation
    # offline, timeouts): shown as "Waiting for Xero" since then; cleared when Xero answers.
    xero_unavailable_since = models.DateTimeField(null=True, blank=True)
    # Xero's own Total of the exported document, and Xero's minus ours when they differ
    # (None when they agree or Xero gave no totals), with the cause in words.
    xero_total = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    total_difference = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    total_note = models.CharField(max_length=300, blank=True)
    # Served by the (job, state) index below, not one of its own (see organisation).
    job = models.ForeignKey("BulkJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="records",
                            db_index=False)
    # Drift (#16): the document's state in Xero as last seen (models.drift.XeroDrift), Xero's
    # Status, what Xero says is paid and due, the Total we compare against (as sent, or as
    # accepted) and Xero's Total when it differs, Xero's UpdatedDateUTC of what we applied
    # (an older answer never overwrites a newer one) and when we looked.
    xero_drift = models.CharField(max_length=20, blank=True, default="")
    xero_status = models.CharField(max_length=20, blank=True)
    xero_amount_paid = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    xero_amount_due = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    drift_total_before = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    drift_total_after = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    xero_updated_at = models.DateTimeField(null=True, blank=True)
    xero_seen_at = models.DateTimeField(null=True, blank=True)
    # "Accept Xero's version": the Status and Total accepted become what is compared against
    # (until the document is exported again: a later export is what Xero was sent).
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    accepted_status = models.CharField(max_length=20, blank=True)
    accepted_total = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    drift_note = models.CharField(max_length=500, blank=True)
    # "Re-export as a new document": the new record that replaced this one in Xero.
    replaced_by = models.OneToOneField("self", null=True, blank=True, on_delete=models.SET_NULL,
                                       related_name="replaces")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["organisation", "xero_drift"]),
            models.Index(fields=["organisation", "doc_type", "doc_date"]),
            # The queue index (issue #18): a claim reads its batch in this order and stops after 50
            # rows, whatever the queue's length. Partial: only queued records hold an entry, so a
            # record pays for it while it waits to be sent, not for the rest of its life, and no
            # index leads with the state. With statistics taken while the queue was empty
            # (autovacuum's usual picture) the planner believes "queued" matches one row; given an
            # index (state, …) it read every queued record of every organisation at each claim
            # (28 ms a batch at 150,000 queued). `state = 'queued'` exactly, and the state among the
            # columns, so that SQLite (which proves a partial index usable only from the same
            # term) takes it too. Look-ups across organisations go organisation by organisation
            # (exports.sweep, claims.exports_recover_stale); (organisation, state) for the other
            # states — an organisation's records being sent, or waiting — is the prefix of the day
            # index below.
            models.Index(fields=["organisation", "state", "next_attempt_at", "id"], name="exportrecord_queue_idx",
                         condition=models.Q(state=ExportState.QUEUED)),
            # A job's counts by state are read from the index.
            models.Index(fields=["job", "state"], name="exportrecord_job_state_idx"),
            # The admin's ledger changelist (newest first) and its search by exact Xero id; a
            # Xero id (a GUID) also finds the records drift and webhooks look up (no index on the
            # tenant: the send start, which writes it, then touches no indexed column).
            models.Index(fields=["doc_date", "id"], name="exportrecord_date_idx"),
            models.Index(fields=["xero_id"], name="exportrecord_xero_id_idx"),
            # The portal's 30-day picture (selectors.portal.daily_activity) counts exports per day
            # from this index alone: organisation, state and the time are all in it.
            models.Index(fields=["organisation", "state", "exported_at"], name="exportrecord_exported_day_idx"),
        ]
        ordering = ["-doc_date", "id"]

    def __str__(self):
        return f"{self.document} — {self.get_state_display()}"


class ExportAttempt(ByPersonMixin, models.Model):
    class Outcome(models.TextChoices):
        EXPORTED = "exported", "Exported"
        VALIDATION_FAILED = "validation_failed", "Refused by Xero"
        PREFLIGHT_FAILED = "preflight_failed", "Missing in lists"
        RATE_LIMITED = "rate_limited", "Rate limited"
        UNAVAILABLE = "unavailable", "Xero unavailable"
        CONNECTION_PROBLEM = "connection_problem", "Not connected"
        RECOVERED = "recovered", "Recovered after interruption"
        ERROR = "error", "Error"

    record = models.ForeignKey(ExportRecord, on_delete=models.CASCADE, related_name="attempts")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=30, choices=Outcome.choices, blank=True)
    messages = models.JSONField(default=list, blank=True, help_text="Xero's validation messages, verbatim.")
    http_status = models.PositiveIntegerField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=128, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    by_person = models.BooleanField(default=False, help_text="A person made it (their account may since be "
                                                               "deleted); otherwise it was automatic.")

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            # The portal's 30-day picture counts failed attempts per day from this index alone.
            models.Index(fields=["outcome", "started_at", "record"], name="exportattempt_failed_day_idx"),
        ]


class BulkJob(ByPersonMixin, models.Model):
    """A background job a person started: export a selection/range, retry failed, refresh
    lists or run health checks, for one organisation or (portal) many."""

    class Kind(models.TextChoices):
        EXPORT_SELECTED = "export_selected", "Export selected"
        EXPORT_RANGE = "export_range", "Export everything not yet exported"
        RETRY_FAILED = "retry_failed", "Retry failed"
        REEXPORT = "reexport", "Re-export"
        REFRESH_LISTS = "refresh_lists", "Refresh lists"
        HEALTH_CHECK = "health_check", "Health check"
        RECONCILE = "reconcile", "Check exported documents in Xero"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    organisation = models.ForeignKey(Organisation, null=True, blank=True, on_delete=models.CASCADE,
                                     related_name="bulk_jobs", help_text="Empty for portal jobs over many organisations.")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    by_person = models.BooleanField(default=False, help_text="A person made it (their account may since be "
                                                               "deleted); otherwise it was automatic.")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    waiting = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    # Per organisation (portal) or summary lines: [{"organisation": id, "name":.., "outcome":.., "detail":..}]
    results = models.JSONField(default=list, blank=True)
    summary = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.get_kind_display()} ({self.get_status_display()})"

    @property
    def percent(self) -> int:
        finished = self.done + self.failed + self.skipped
        return int(100 * finished / self.total) if self.total else (100 if self.status == self.Status.DONE else 0)
