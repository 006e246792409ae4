"""Token-encryption key rotation."""
from dataclasses import dataclass

from django.db import transaction

from .. import crypto
from ..models import PendingAuthorisation, XeroConnection

TOKEN_FIELDS = ("access_token_encrypted", "refresh_token_encrypted")
PENDING_FIELDS = ("access_token_encrypted", "refresh_token_encrypted")


@dataclass
class ReencryptResult:
    connections: int
    pending: int


def _rotate_rows(model, fields) -> int:
    count = 0
    for pk in model.objects.values_list("pk", flat=True).iterator():
        with transaction.atomic():
            row = model.objects.select_for_update().get(pk=pk)
            for name in fields:
                setattr(row, name, crypto.rotate(getattr(row, name)))
            row.save(update_fields=list(fields))
        count += 1
    return count


def tokens_reencrypt() -> ReencryptResult:
    """Re-encrypt every token with the first (newest) configured key, row by row under a lock
    so a concurrent token refresh is never overwritten with an older value."""
    return ReencryptResult(connections=_rotate_rows(XeroConnection, TOKEN_FIELDS),
                           pending=_rotate_rows(PendingAuthorisation, PENDING_FIELDS))
