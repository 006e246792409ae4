from django.db import models


class SignInGate(models.Model):
    """One row per username and per client address that tried to sign in: the row each sign-in
    attempt locks (an UPDATE, so SQLite takes its write lock too) for the length of its password
    check. Attempts for the same username or address therefore run one after another, and each
    sees the failures django-axes recorded for the ones before it: the count is taken before the
    password is checked, atomically (see views.auth)."""

    key = models.CharField(max_length=300, unique=True)
    touched_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return self.key
