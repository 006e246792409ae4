from django.db import models


class RateBudget(models.Model):
    """Xero's call limits as one budget shared by every process and machine.

    One row per tenant (scope="tenant:<id>") and one for the whole app (scope="app").
    Updated by xero_connect.services.ratelimits, one statement a call that locks the rows it decides on.
    """

    scope = models.CharField(max_length=100, unique=True)
    minute_window_start = models.DateTimeField(null=True, blank=True)
    minute_count = models.PositiveIntegerField(default=0)
    day_window_start = models.DateTimeField(null=True, blank=True)
    day_count = models.PositiveIntegerField(default=0)
    in_flight = models.PositiveIntegerField(default=0)
    # Pacing (GCRA): the earliest moment the next call may start. Calls are spaced evenly so
    # that no window of Xero's length, wherever it starts, holds more than the limit.
    next_call_at = models.DateTimeField(null=True, blank=True)
    # Concurrent calls as leases [{"id":…, "until": epoch seconds}]: a process that dies
    # mid-call cannot leak a slot for longer than its lease.
    leases = models.JSONField(default=list, blank=True)
    blocked_until = models.DateTimeField(null=True, blank=True, help_text="Set from a 429's Retry-After.")
    last_problem = models.CharField(max_length=30, blank=True)
    # Remaining counts as last reported by Xero's X-*-Remaining headers.
    reported_minute_remaining = models.IntegerField(null=True, blank=True)
    reported_day_remaining = models.IntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return self.scope
