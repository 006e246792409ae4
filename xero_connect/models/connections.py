from django.conf import settings
from django.db import models
from django.utils import timezone

from ..messages import NOT_CONNECTED, STATE_NAMES  # one name per state
from .fields import EncryptedTextField
from .organisations import Organisation


class ConnectionStatus(models.TextChoices):
    """States of one Xero authorisation. Transitions live in xero_connect.connection_states.

    An organisation with no current connection is "not connected"; that is not a row state
    but the absence of a current row (see selectors.connection_status_for).
    """

    CONNECTED = "connected", STATE_NAMES["connected"]
    NEEDS_RECONNECT = "needs_reconnect", STATE_NAMES["needs_reconnect"]
    REMOVED_IN_XERO = "removed_in_xero", STATE_NAMES["removed_in_xero"]
    DISCONNECTED = "disconnected", "Disconnected"


class XeroConnection(models.Model):
    """One authorisation linking an organisation to one Xero tenant.

    A reconnect ends the old row (status disconnected, is_current False) and creates a new
    one, so the history of earlier connections is kept.
    """

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="xero_connections")
    is_current = models.BooleanField(default=True)
    status = models.CharField(max_length=30, choices=ConnectionStatus.choices, default=ConnectionStatus.CONNECTED)

    tenant_id = models.CharField(max_length=64)
    tenant_name = models.CharField(max_length=255, blank=True)
    xero_connection_id = models.CharField(max_length=64, blank=True, help_text="The id from GET /connections, used to delete it.")
    auth_event_id = models.CharField(max_length=64, blank=True)
    short_code = models.CharField(max_length=32, blank=True, help_text="For 'View in Xero' links.")
    xero_base_currency = models.CharField(max_length=3, blank=True)
    scopes = models.TextField(blank=True, help_text="Granted scopes, space separated.")
    xero_user_name = models.CharField(max_length=255, blank=True)
    xero_user_email = models.CharField(max_length=255, blank=True)

    # Sealed (fields.EncryptedTextField): decrypted only by the code that uses the token.
    access_token_encrypted = EncryptedTextField()
    refresh_token_encrypted = EncryptedTextField()
    access_token_expires_at = models.DateTimeField(null=True, blank=True)
    refresh_token_issued_at = models.DateTimeField(null=True, blank=True)
    # A short lease so that exactly one process refreshes at a time (see services.tokens).
    refresh_lock_until = models.DateTimeField(null=True, blank=True, editable=False)
    refresh_lock_owner = models.CharField(max_length=64, blank=True, editable=False)

    connected_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    connected_at = models.DateTimeField(default=timezone.now)
    disconnected_at = models.DateTimeField(null=True, blank=True)
    last_refreshed_at = models.DateTimeField(null=True, blank=True)
    last_health_check_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organisation"], condition=models.Q(is_current=True),
                                    name="one_current_xero_connection_per_org"),
        ]
        indexes = [models.Index(fields=["status", "is_current"])]
        ordering = ["-connected_at"]

    def __str__(self):
        return f"{self.organisation} → {self.tenant_name or self.tenant_id} ({self.get_status_display()})"

    @property
    def connected_by_name(self) -> str:
        """Who connected: their name, or "a former user" once their account was deleted (every
        connection is made by a person signing in, so an empty link means the person left)."""
        return person_name(self.connected_by)

    # Tokens: only ever held encrypted on the row (the field seals what is assigned).
    def get_access_token(self) -> str:
        """Raises crypto.TokenDecryptionError when no configured key opens it."""
        return self.access_token_encrypted.reveal()

    def get_refresh_token(self) -> str:
        """Raises crypto.TokenDecryptionError when no configured key opens it."""
        return self.refresh_token_encrypted.reveal()

    def set_tokens(self, *, access_token: str, refresh_token: str | None, expires_at, now=None) -> None:
        """Store a token response. Keeps the old refresh token when the provider sends none."""
        now = now or timezone.now()
        self.access_token_encrypted = access_token
        self.access_token_expires_at = expires_at
        if refresh_token:
            self.refresh_token_encrypted = refresh_token
            self.refresh_token_issued_at = now
        self.last_refreshed_at = now

    def clear_tokens(self) -> None:
        self.access_token_encrypted = ""
        self.refresh_token_encrypted = ""
        self.access_token_expires_at = None

    @property
    def has_tokens(self) -> bool:
        return bool(self.refresh_token_encrypted)

    @property
    def scope_set(self) -> set[str]:
        return set(self.scopes.split())


FORMER_USER = "a former user"


def person_name(user) -> str:
    """A person's name as history shows it: full name, else username; FORMER_USER when the
    account no longer exists (the foreign key was set to NULL when it was deleted)."""
    if user is None:
        return FORMER_USER
    return user.get_full_name() or user.get_username()


class ByPersonMixin:
    """For rows with an `actor` user link (SET_NULL) and a `by_person` flag: whether a person
    made the row survives their account's deletion, so history says "a former user", not
    nothing. `by_person` is set on save when an actor is given (bulk creators set it themselves)."""

    def save(self, *args, **kwargs):
        if self.actor_id is not None:
            self.by_person = True
        super().save(*args, **kwargs)

    @property
    def actor_name(self) -> str:
        """The person's name, "a former user" for a deleted account, "" when automatic."""
        if self.actor_id is None and not self.by_person:
            return ""
        return person_name(self.actor)


class ConnectionEvent(models.Model):
    """Audit row: every status transition and every check of a connection."""

    class Kind(models.TextChoices):
        TRANSITION = "transition", "Status change"
        CHECK = "check", "Health check"
        TOKEN_REFRESH = "token_refresh", "Token refresh"
        OAUTH = "oauth", "Sign-in"
        IMPORT = "import", "Import"
        NOTE = "note", "Note"

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="connection_events")
    connection = models.ForeignKey(XeroConnection, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.TRANSITION)
    transition = models.CharField(max_length=50, blank=True, help_text="Name of the transition function.")
    from_status = models.CharField(max_length=30, blank=True)
    to_status = models.CharField(max_length=30, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    by_person = models.BooleanField(default=False, help_text="A person caused it (their account may since be "
                                                               "deleted); otherwise it was automatic.")
    reason = models.TextField(blank=True)
    outcome = models.CharField(max_length=30, blank=True, help_text="For checks: ok / problem / error.")
    details = models.JSONField(default=dict, blank=True)
    xero_user = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organisation", "-created_at"])]

    @property
    def actor_name(self) -> str:
        """The person's name, "a former user" for a deleted account, "" when automatic."""
        if self.actor_id is None and not self.by_person:
            return ""
        return person_name(self.actor)

    @staticmethod
    def status_label(code: str) -> str:
        return STATE_NAMES.get(code) or dict(ConnectionStatus.choices).get(code, STATE_NAMES[NOT_CONNECTED])

    def __str__(self):
        if self.kind == self.Kind.TRANSITION:
            return f"{self.status_label(self.from_status)} → {self.status_label(self.to_status)}: {self.reason}"
        return self.reason


class PendingAuthorisation(models.Model):
    """Tokens obtained by the OAuth callback while the admin chooses the Xero organisation.

    Held here (encrypted), not in the session; consumed by the confirm step, expires soon.
    """

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    replaces = models.ForeignKey(XeroConnection, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    auth_event_id = models.CharField(max_length=64, blank=True)
    tenants = models.JSONField(default=list, help_text="Connections granted by this consent (GET /connections).")
    scopes = models.TextField(blank=True)
    xero_user_name = models.CharField(max_length=255, blank=True)
    xero_user_email = models.CharField(max_length=255, blank=True)
    # Sealed (fields.EncryptedTextField): decrypted only by the code that uses the token.
    access_token_encrypted = EncryptedTextField()
    refresh_token_encrypted = EncryptedTextField()
    access_token_expires_at = models.DateTimeField(null=True, blank=True)
    chosen_tenant_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    def get_access_token(self) -> str:
        """Raises crypto.TokenDecryptionError when no configured key opens it."""
        return self.access_token_encrypted.reveal()

    def get_refresh_token(self) -> str:
        """Raises crypto.TokenDecryptionError when no configured key opens it."""
        return self.refresh_token_encrypted.reveal()
