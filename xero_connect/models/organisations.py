from django.conf import settings
from django.db import models


class Organisation(models.Model):
    """A customer organisation of the host system (one tenant of xero_connect)."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    base_currency = models.CharField(max_length=3, default="NZD")
    # The host system's own id for this organisation (its customer id), set through the API.
    external_id = models.CharField(max_length=100, unique=True, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class ExchangeRate(models.Model):
    """The host system's own exchange rate for a foreign currency.

    The currency import on (re)connect adds a Xero currency to the organisation's list
    only when a valid rate exists here (rate > 0).
    """

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="exchange_rates")
    currency_code = models.CharField(max_length=3)
    rate = models.DecimalField(max_digits=18, decimal_places=8, null=True, blank=True,
                               help_text="Units of this currency per one unit of the base currency.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organisation", "currency_code"], name="uniq_exchange_rate_per_org"),
        ]
        ordering = ["currency_code"]

    def __str__(self):
        return f"{self.organisation} {self.currency_code} {self.rate}"

    @property
    def is_valid(self) -> bool:
        return self.rate is not None and self.rate > 0


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"


class Membership(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organisation", "user"], name="uniq_membership_per_org_user"),
        ]
        ordering = ["organisation__name", "user__username"]

    def __str__(self):
        return f"{self.user} @ {self.organisation} ({self.get_role_display()})"
