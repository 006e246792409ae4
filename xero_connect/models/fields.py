"""Model fields with a reason to exist."""
import decimal
from functools import cached_property

from django.db import models


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
