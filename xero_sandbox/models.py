"""State of the local Xero stand-in.

Everything lives in the shared database so that the web process, worker processes and
test threads all see one Xero: identities, grants and tokens, connections, the
accounting data of each sandbox organisation, limit counters, idempotency records and
injected faults.
"""
import secrets
import uuid

from django.conf import settings
from django.db import models

from .formats import contact_name_key


class SandboxOrganisation(models.Model):
    """A Xero organisation (a "tenant")."""

    tenant_id = models.UUIDField(default=uuid.uuid4, unique=True)
    name = models.CharField(max_length=200)
    legal_name = models.CharField(max_length=200, blank=True)
    short_code = models.CharField(max_length=20, unique=True)
    base_currency = models.CharField(max_length=3)
    country_code = models.CharField(max_length=2)
    version = models.CharField(max_length=10, help_text="Xero's organisation version: NZ, AU, UK, US, GLOBAL.")
    timezone = models.CharField(max_length=60, default="NEWZEALANDSTANDARDTIME")
    line_of_business = models.CharField(max_length=200, blank=True)
    financial_year_end_day = models.PositiveSmallIntegerField(default=31)
    financial_year_end_month = models.PositiveSmallIntegerField(default=3)
    period_lock_date = models.DateField(null=True, blank=True)
    invoice_sequence = models.PositiveIntegerField(default=0)
    credit_note_sequence = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class SandboxUser(models.Model):
    """A person who signs in to the sandbox's Xero (not a user of the product)."""

    xero_userid = models.UUIDField(default=uuid.uuid4, unique=True)
    email = models.EmailField(unique=True)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    password = models.CharField(max_length=200, help_text="Django password hash.")
    organisations = models.ManyToManyField(SandboxOrganisation, related_name="users", blank=True)

    def __str__(self):
        return self.email

    @property
    def name(self):
        return f"{self.first_name} {self.last_name}".strip()


class SandboxApp(models.Model):
    """An app registered with Xero (client id, secret and allowed redirect URIs)."""

    name = models.CharField(max_length=200)
    client_id = models.CharField(max_length=200, unique=True)
    client_secret = models.CharField(max_length=200)
    redirect_uris = models.TextField(help_text="One allowed redirect URI a line.")
    # Webhooks (Xero developer portal → Webhooks): where and with which key this app's events
    # are delivered; `webhook_verified_url` is the URL that passed the intent-to-receive check.
    # Empty URL on the app seeded from settings: XERO_SANDBOX_WEBHOOK_URL / XERO_WEBHOOK_KEY.
    webhook_url = models.CharField(max_length=500, blank=True)
    webhook_key = models.CharField(max_length=200, blank=True)
    webhook_verified_url = models.CharField(max_length=500, blank=True)

    def __str__(self):
        return self.name

    def allowed_redirects(self):
        """The registered URIs; the app seeded from settings also follows the current
        XERO_REDIRECT_URI (tests move the product to a live server's random port)."""
        uris = [line.strip() for line in self.redirect_uris.splitlines() if line.strip()]
        if self.client_id == settings.XERO_CLIENT_ID:
            uris.append(settings.XERO_REDIRECT_URI)
        return uris

    def allows_redirect(self, uri):
        return bool(uri) and uri in self.allowed_redirects()

    def secret_matches(self, secret):
        candidates = [self.client_secret]
        if self.client_id == settings.XERO_CLIENT_ID:
            candidates.append(settings.XERO_CLIENT_SECRET)
        return any(secrets.compare_digest(c.encode(), (secret or "").encode()) for c in candidates)


class Grant(models.Model):
    """One consent: a token family. Refresh tokens rotate inside it; revoking any of its
    refresh tokens revokes the family and removes the connections it made."""

    app = models.ForeignKey(SandboxApp, on_delete=models.CASCADE, related_name="grants")
    user = models.ForeignKey(SandboxUser, on_delete=models.CASCADE, related_name="grants")
    auth_event_id = models.UUIDField(default=uuid.uuid4, unique=True)
    scope = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)


class AuthorisationCode(models.Model):
    code_hash = models.CharField(max_length=64, unique=True)
    grant = models.ForeignKey(Grant, on_delete=models.CASCADE, related_name="codes")
    redirect_uri = models.TextField()
    code_challenge = models.CharField(max_length=200, blank=True)
    nonce = models.CharField(max_length=200, blank=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)


class AccessToken(models.Model):
    jti = models.CharField(max_length=64, unique=True)
    grant = models.ForeignKey(Grant, on_delete=models.CASCADE, related_name="access_tokens")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)


class RefreshToken(models.Model):
    token_hash = models.CharField(max_length=64, unique=True)
    grant = models.ForeignKey(Grant, on_delete=models.CASCADE, related_name="refresh_tokens")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    rotated_at = models.DateTimeField(null=True, blank=True, help_text="When it was first used; the grace period runs from here.")


class Connection(models.Model):
    """A tenant an app may reach on behalf of a user. One row per (app, user, tenant):
    re-consent revives/updates it (same id, new authEventId), removal soft-deletes it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    app = models.ForeignKey(SandboxApp, on_delete=models.CASCADE, related_name="connections")
    user = models.ForeignKey(SandboxUser, on_delete=models.CASCADE, related_name="connections")
    organisation = models.ForeignKey(SandboxOrganisation, on_delete=models.CASCADE, related_name="connections")
    grant = models.ForeignKey(Grant, on_delete=models.CASCADE, related_name="connections")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField()
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.CharField(max_length=40, blank=True, help_text="api-delete, revocation, xero-user")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["app", "user", "organisation"], name="sandbox_one_connection_per_app_user_tenant"),
        ]


# --- accounting data -------------------------------------------------------------------


class Account(models.Model):
    organisation = models.ForeignKey(SandboxOrganisation, on_delete=models.CASCADE, related_name="accounts")
    account_id = models.UUIDField(default=uuid.uuid4, unique=True)
    code = models.CharField(max_length=10, blank=True)
    name = models.CharField(max_length=150)
    type = models.CharField(max_length=30)
    status = models.CharField(max_length=10, default="ACTIVE")
    tax_type = models.CharField(max_length=50, blank=True)
    account_class = models.CharField(max_length=20)
    currency_code = models.CharField(max_length=3, blank=True)
    bank_account_number = models.CharField(max_length=40, blank=True)
    enable_payments = models.BooleanField(default=False)
    system_account = models.CharField(max_length=30, blank=True, help_text="DEBTORS, CREDITORS, GST, ...")
    description = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code", "name"]
        constraints = [models.UniqueConstraint(fields=["organisation", "code"], name="sandbox_account_code_unique")]


class Currency(models.Model):
    organisation = models.ForeignKey(SandboxOrganisation, on_delete=models.CASCADE, related_name="currencies")
    code = models.CharField(max_length=3)
    description = models.CharField(max_length=100)

    class Meta:
        ordering = ["code"]
        constraints = [models.UniqueConstraint(fields=["organisation", "code"], name="sandbox_currency_unique")]


class TaxRate(models.Model):
    organisation = models.ForeignKey(SandboxOrganisation, on_delete=models.CASCADE, related_name="tax_rates")
    name = models.CharField(max_length=100)
    tax_type = models.CharField(max_length=50)
    report_tax_type = models.CharField(max_length=30, blank=True)
    status = models.CharField(max_length=10, default="ACTIVE")
    rate = models.DecimalField(max_digits=9, decimal_places=4)
    for_revenue = models.BooleanField(default=True)
    for_expenses = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["organisation", "tax_type"], name="sandbox_tax_type_unique")]


class Contact(models.Model):
    organisation = models.ForeignKey(SandboxOrganisation, on_delete=models.CASCADE, related_name="contacts")
    contact_id = models.UUIDField(default=uuid.uuid4, unique=True)
    name = models.CharField(max_length=255)
    name_key = models.CharField(max_length=1024, db_index=True, editable=False, default="",
                                help_text="formats.contact_name_key(name): how Xero matches names, made in Python.")
    first_name = models.CharField(max_length=255, blank=True)
    last_name = models.CharField(max_length=255, blank=True)
    email = models.CharField(max_length=255, blank=True)
    account_number = models.CharField(max_length=50, blank=True)
    status = models.CharField(max_length=10, default="ACTIVE")
    is_customer = models.BooleanField(default=False)
    is_supplier = models.BooleanField(default=False)
    default_currency = models.CharField(max_length=3, blank=True)
    updated_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["name"]

    def save(self, *args, **kwargs):
        self.name_key = contact_name_key(self.name)
        if kwargs.get("update_fields") is not None and "name" in kwargs["update_fields"]:
            kwargs["update_fields"] = {*kwargs["update_fields"], "name_key"}
        super().save(*args, **kwargs)


class TrackingCategory(models.Model):
    organisation = models.ForeignKey(SandboxOrganisation, on_delete=models.CASCADE, related_name="tracking_categories")
    tracking_category_id = models.UUIDField(default=uuid.uuid4, unique=True)
    name = models.CharField(max_length=100)
    status = models.CharField(max_length=10, default="ACTIVE")

    class Meta:
        ordering = ["name"]


class TrackingOption(models.Model):
    category = models.ForeignKey(TrackingCategory, on_delete=models.CASCADE, related_name="options")
    tracking_option_id = models.UUIDField(default=uuid.uuid4, unique=True)
    name = models.CharField(max_length=100)
    status = models.CharField(max_length=10, default="ACTIVE")

    class Meta:
        ordering = ["name"]


class Document(models.Model):
    """An invoice, bill, credit note, payment or manual journal.

    `data` keeps the normalised fields as Xero would echo them; the columns are what
    the sandbox searches and totals on."""

    class Kind(models.TextChoices):
        INVOICE = "invoice"
        CREDIT_NOTE = "creditnote"
        PAYMENT = "payment"
        MANUAL_JOURNAL = "manualjournal"

    organisation = models.ForeignKey(SandboxOrganisation, on_delete=models.CASCADE, related_name="documents")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    document_id = models.UUIDField(default=uuid.uuid4, unique=True)
    doc_type = models.CharField(max_length=20, blank=True)
    number = models.CharField(max_length=255, blank=True, db_index=True)
    reference = models.TextField(blank=True, help_text="Xero's file sets no maxLength on Reference (Xero-OpenAPI#331).")
    status = models.CharField(max_length=20)
    date = models.DateField()
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.PROTECT)
    currency_code = models.CharField(max_length=3, blank=True)
    total = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    amount_paid = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    target = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="payments",
                               help_text="For a payment: the invoice or credit note it pays.")
    data = models.JSONField(default=dict)
    created_by_app = models.ForeignKey(SandboxApp, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["date", "created_at", "id"]
        indexes = [models.Index(fields=["organisation", "kind", "updated_at"])]


# --- limits, idempotency, faults, runtime configuration ---------------------------------


class RateWindow(models.Model):
    """Calls counted in one fixed window (a time-scaled minute or day) for one key."""

    key = models.CharField(max_length=100)
    window = models.BigIntegerField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key", "window"], name="sandbox_rate_window_unique")]


class InFlightCall(models.Model):
    """A call being answered right now, for the concurrent-calls limit."""

    organisation = models.ForeignKey(SandboxOrganisation, on_delete=models.CASCADE, related_name="in_flight")
    started_at = models.DateTimeField()


class Counter(models.Model):
    """Totals for tests and benchmarks (API calls received, 429s answered, ...)."""

    name = models.CharField(max_length=150, unique=True)
    value = models.BigIntegerField(default=0)


class IdempotencyRecord(models.Model):
    app = models.ForeignKey(SandboxApp, on_delete=models.CASCADE)
    organisation = models.ForeignKey(SandboxOrganisation, on_delete=models.CASCADE)
    key = models.CharField(max_length=128)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    content_type = models.CharField(max_length=100, blank=True)
    body = models.BinaryField(null=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["app", "organisation", "key"], name="sandbox_idempotency_key_unique"),
        ]


class Fault(models.Model):
    """An injected misbehaviour. See docs/sandbox.md for the kinds."""

    class Kind(models.TextChoices):
        MAINTENANCE = "maintenance"  # 503, plain text
        SLOW = "slow"  # sleep `delay` seconds, then answer normally
        HTML = "html"  # an HTML page instead of JSON
        TRUNCATED = "truncated"  # commit, then half a JSON body
        DROP = "drop"  # commit, then close the connection without an answer
        RATE_LIMIT = "rate_limit"  # 429 with Retry-After and X-Rate-Limit-Problem
        ERROR = "error"  # any status with a JSON body

    kind = models.CharField(max_length=20, choices=Kind.choices)
    organisation = models.ForeignKey(SandboxOrganisation, null=True, blank=True, on_delete=models.CASCADE)
    endpoint = models.CharField(max_length=20, default="api", help_text="api, token, connections or any")
    path_contains = models.CharField(max_length=100, blank=True)
    methods = models.CharField(max_length=40, blank=True, help_text="Comma separated; blank = all.")
    remaining = models.IntegerField(null=True, blank=True, help_text="Calls left to hit; blank = until cleared.")
    probability = models.FloatField(default=1.0)
    delay = models.FloatField(default=0)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    problem = models.CharField(max_length=20, blank=True)
    retry_after = models.PositiveIntegerField(null=True, blank=True)
    hits = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]


class RuntimeSetting(models.Model):
    """A runtime override of a XERO_SANDBOX_* setting, set through the control endpoint."""

    name = models.CharField(max_length=60, unique=True)
    value = models.JSONField()
