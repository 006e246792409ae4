"""Secrets shown once (a new API key, a new webhook endpoint's signing secret) by
POST-redirect-GET: the form's POST keeps the secret in the session, encrypted
(crypto.encrypt, as secrets are kept at rest), and redirects; the GET that follows takes it out
and shows it with `Cache-Control: no-store`. Reloading that page, or going back to it, shows
the page without the secret and never re-sends the form, so no second key is made."""
from django.utils.cache import add_never_cache_headers

from .. import crypto

_SLOT = "shown_once:{what}:{organisation_id}"


def shown_once_keep(request, *, what: str, organisation, secret: str) -> None:
    """Keep `secret` (a str) for the next showing of the `what` page ("api_key", "webhook")
    of `organisation`; a newer one replaces one not yet shown."""
    request.session[_SLOT.format(what=what, organisation_id=organisation.pk)] = crypto.encrypt(secret)


def shown_once_take(request, *, what: str, organisation) -> str:
    """The secret kept for this page, removed from the session as it is read; "" when none is
    waiting (a reload, another tab, or one that can no longer be decrypted after a key rotation)."""
    kept = request.session.pop(_SLOT.format(what=what, organisation_id=organisation.pk), None)
    if not kept:
        return ""
    try:
        return crypto.decrypt(kept)
    except crypto.TokenDecryptionError:  # an unreadable leftover is not shown; the page still answers
        return ""


def never_cached(response, *, secret: str):
    """`response` with no-store headers when it shows a secret (a back button must not bring it back)."""
    if secret:
        add_never_cache_headers(response)
    return response
