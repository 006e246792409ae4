"""Model fields with a reason to exist."""
import decimal
from functools import cached_property

from django.db import models
from django.db.models.query_utils import DeferredAttribute

from .. import crypto


class TolerantDecimalField(models.DecimalField):
    """A DecimalField that can always be *read*, even when a value outside max_digits got into
    the table (SQLite does not enforce NUMERIC(p, s); a row written before the strict parser, or
    by hand). Django's SQLite converter quantizes with a context of max_digits precision and
    raises InvalidOperation on such a value, which made the Export Data page and the admin's
    list, view and delete pages answer 500. The wider context lets the row be shown and deleted;
    writing is still bounded by the parser (xero_connect.parsing) and, on PostgreSQL, the column.
    """

    @cached_property
    def context(self):
        return decimal.Context(prec=max(self.max_digits or 0, 60))

    def to_python(self, value):
        # Writes keep Django's precision for floats; only reads get the wider context.
        if isinstance(value, float):
            value = decimal.Context(prec=self.max_digits).create_decimal_from_float(value)
        return super().to_python(value)


class Sealed:
    """A secret as it is stored: Fernet ciphertext (MultiFernet under TOKEN_ENCRYPTION_KEYS,
    see xero_connect.crypto), opened only by `reveal()`.

    Never prints its content: `repr`, `str` and f-strings give ``<encrypted>`` (or ``""`` when
    empty), so a connection or a token lands in a log line, an admin page or an error report
    redacted. Truthy when something is stored, without decrypting. Equal to another Sealed
    holding the same ciphertext."""

    __slots__ = ("ciphertext",)
    REDACTED = "<encrypted>"

    def __init__(self, ciphertext: str = ""):
        self.ciphertext = ciphertext or ""

    @classmethod
    def seal(cls, plaintext: str | None) -> "Sealed":
        """Encrypt `plaintext` with the newest key ("" and None give an empty Sealed)."""
        return cls(crypto.encrypt(plaintext or ""))

    def reveal(self) -> str:
        """The plaintext ("" when empty). Raises crypto.TokenDecryptionError when no configured
        key opens the ciphertext (a key dropped too early, or a foreign value)."""
        return crypto.decrypt(self.ciphertext)

    def rotated(self) -> "Sealed":
        """The same secret encrypted with the newest key (MultiFernet.rotate). Raises
        crypto.TokenDecryptionError like reveal()."""
        return Sealed(crypto.rotate(self.ciphertext))

    def __bool__(self) -> bool:
        return bool(self.ciphertext)

    def __eq__(self, other) -> bool:
        return isinstance(other, Sealed) and other.ciphertext == self.ciphertext

    def __hash__(self) -> int:
        return hash(self.ciphertext)

    def __repr__(self) -> str:
        return self.REDACTED if self.ciphertext else "''"

    def __str__(self) -> str:
        return self.REDACTED if self.ciphertext else ""

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __reduce__(self):  # pickled (task arguments, caches) as ciphertext, never as plaintext
        return (Sealed, (self.ciphertext,))


class _SealingAttribute(DeferredAttribute):
    """The model attribute of an EncryptedTextField: whatever is assigned is held as a Sealed."""

    def __set__(self, instance, value):
        instance.__dict__[self.field.attname] = self.field.sealed(value)


class EncryptedTextField(models.TextField):
    """A text column holding Fernet ciphertext, whose model attribute is always a `Sealed`.

    - Assign plaintext (``connection.refresh_token_encrypted = "…"``, or as a keyword to the
      model / ``create`` / ``update``): it is encrypted with the newest key at once; assign
      ``""`` or None to clear; assign a Sealed (e.g. another row's) to copy it unchanged.
    - The column keeps MultiFernet's URL-safe base64 token as text, exactly what
      ``crypto.encrypt`` wrote before this field existed: old rows read back unchanged.
    - **Decrypt on use, not on load.** Reading a row never decrypts (`from_db_value` wraps the
      ciphertext); only `Sealed.reveal()` does, and it raises crypto.TokenDecryptionError when
      no key opens it. So a row whose ciphertext no configured key can read still lists, counts
      and renders on every page (admin changelist, settings, portal); only the code that needs
      the token meets the typed error (services.tokens turns it into "needs reconnect").
    - **Never in admin**: the field is not editable (Django leaves it out of every ModelForm and
      refuses it in `fields`), and a Sealed renders as ``<encrypted>`` wherever it is displayed.
    - Serialised (dumpdata/loaddata) as the ciphertext; `to_python` reads a str as ciphertext.
    """

    descriptor_class = _SealingAttribute

    def __init__(self, *args, **kwargs):
        kwargs["editable"] = False
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("editable", None)  # always False
        kwargs.pop("blank", None)
        if not self.blank:  # blank=True is this field's default
            kwargs["blank"] = False
        return name, path, args, kwargs

    @staticmethod
    def sealed(value) -> Sealed:
        """What an assignment means: a Sealed stays; "" / None is empty; a str is plaintext."""
        if isinstance(value, Sealed):
            return value
        if value is None or value == "":
            return Sealed()
        if isinstance(value, str):
            return Sealed.seal(value)
        raise TypeError(f"an encrypted field takes a str or a Sealed, not {type(value).__name__}")

    def from_db_value(self, value, expression, connection):
        return Sealed(value or "")

    def to_python(self, value):
        if isinstance(value, Sealed):
            return value
        return Sealed(value or "")  # a serialised value is ciphertext

    def get_prep_value(self, value):
        return self.sealed(value).ciphertext

    def value_to_string(self, obj):
        return self.value_from_object(obj).ciphertext
