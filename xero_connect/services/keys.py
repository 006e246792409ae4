"""Token-encryption key rotation."""
from dataclasses import dataclass

from django.db import transaction

from .. import crypto
from ..models import PendingAuthorisation, WebhookEndpoint, XeroConnection

# Every EncryptedTextField in the app, by model (their values are models.fields.Sealed).
SEALED_FIELDS = (
    (XeroConnection, ("access_token_encrypted", "refresh_token_encrypted")),
    (PendingAuthorisation, ("access_token_encrypted", "refresh_token_encrypted")),
    (WebhookEndpoint, ("secret_encrypted",)),
)


@dataclass
class ReencryptResult:
    connections: int
    pending: int
    webhook_endpoints: int
    unreadable: int  # rows with a value no configured key opens: left as they are


def _rotate_rows(model, fields) -> tuple[int, int]:
    """(rows re-encrypted, rows left unreadable)."""
    count = unreadable = 0
    for pk in model.objects.values_list("pk", flat=True).iterator():
        with transaction.atomic():
            row = model.objects.select_for_update().filter(pk=pk).first()
            if row is None:  # deleted meanwhile
                continue
            try:
                rotated = {name: getattr(row, name).rotated() for name in fields}
            except crypto.TokenDecryptionError:
                unreadable += 1
                continue
            for name, value in rotated.items():
                setattr(row, name, value)
            row.save(update_fields=list(fields))
        count += 1
    return count, unreadable


def tokens_reencrypt() -> ReencryptResult:
    """Re-encrypt every token and webhook signing secret with the first (newest) configured
    key, row by row under a lock so a concurrent token refresh is never overwritten with an
    older value. A row no configured key opens is counted in `unreadable` and left unchanged
    (its connection turns "needs reconnect" when its token is next used: services.tokens)."""
    counts = {model: _rotate_rows(model, fields) for model, fields in SEALED_FIELDS}
    return ReencryptResult(connections=counts[XeroConnection][0], pending=counts[PendingAuthorisation][0],
                           webhook_endpoints=counts[WebhookEndpoint][0],
                           unreadable=sum(unreadable for _, unreadable in counts.values()))
