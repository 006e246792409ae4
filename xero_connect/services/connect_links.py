"""Connect links: a signed, short-lived URL the host system shows its Admin user. It leads
through the usual connect / choose / confirm pages (the Admin signs in here, role gates
unchanged) and, once connected, back to the host's `return_url`, which must be on the
API_CONNECT_RETURN_HOSTS allow-list."""
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone

SALT = "xero_connect.connect_link"
SESSION_KEY = "xero_connect.connect_return"


class ReturnURLRefused(ValueError):
    pass


def return_url_check(url: str) -> str:
    """The URL if it is http(s) on an allowed host; ReturnURLRefused otherwise."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ReturnURLRefused("return_url must be an http or https address.")
    if parts.hostname.lower() not in {h.lower() for h in settings.API_CONNECT_RETURN_HOSTS}:
        raise ReturnURLRefused(f"return_url's host {parts.hostname} is not on the allow-list "
                               f"(API_CONNECT_RETURN_HOSTS).")
    return url


def connect_link_make(*, organisation, return_url: str) -> tuple[str, object]:
    """(absolute URL, expiry time). Raises ReturnURLRefused."""
    token = signing.dumps({"o": organisation.pk, "r": return_url_check(return_url)}, salt=SALT, compress=True)
    url = settings.SITE_URL.rstrip("/") + reverse("connect_link", kwargs={"token": token})
    return url, timezone.now() + timedelta(seconds=settings.API_CONNECT_LINK_TTL)


def connect_link_read(token: str) -> tuple[int, str]:
    """(organisation id, return_url); signing.BadSignature (SignatureExpired too) when tampered or old."""
    data = signing.loads(token, salt=SALT, max_age=settings.API_CONNECT_LINK_TTL)
    return int(data["o"]), return_url_check(data["r"])


def return_url_remember(session, *, organisation, return_url: str) -> None:
    urls = dict(session.get(SESSION_KEY) or {})
    urls[str(organisation.pk)] = return_url
    session[SESSION_KEY] = urls


def return_url_pop(session, *, organisation, status: str = "connected") -> str:
    """Where to send the Admin after finishing, with `organisation` and `status` added; '' if
    they did not come from a connect link."""
    urls = dict(session.get(SESSION_KEY) or {})
    url = urls.pop(str(organisation.pk), "")
    if not url:
        return ""
    session[SESSION_KEY] = urls
    sep = "&" if urlsplit(url).query else "?"
    return f"{url}{sep}{urlencode({'organisation': organisation.slug, 'status': status})}"
