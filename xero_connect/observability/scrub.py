"""Secrets out of text: what logs and error reports must never carry.

Used by the JSON log formatter and by Sentry's before_send. It masks, wherever they appear:
bearer credentials, JWTs (Xero's access and id tokens are JWTs), and the values of keys named
like a secret (access_token, refresh_token, id_token, code, code_verifier, client_secret,
password, authorization, token, secret, state, …) in query strings, JSON, dict reprs and key=value text.
"""
import re

MASK = "[redacted]"

# Names of keys and variables whose values are secret (case-insensitive; also as a suffix or
# prefix joined by "_": xero_refresh_token, session_cookie…). "code" and "state" only as
# themselves or OAuth's names for them, so status_code or export_state stay readable.
SECRET_KEYS = ("access_token", "refresh_token", "id_token", "code_verifier", "client_secret", "password",
               "authorization", "token", "secret", "api_key", "cookie", "sessionid", "csrftoken")
OAUTH_KEYS = ("code", "auth_code", "authorization_code", "state", "oauth_state")
_SECRET_KEY_RE = re.compile(
    r"(?i)(?P<key>(?<![\w-])(?:(?:[\w-]*_)?(?:" + "|".join(SECRET_KEYS) + r")|" + "|".join(OAUTH_KEYS) + r")\b)"
    r"(?P<sep>[\"']?\s*[:=]\s*[\"']?)(?P<value>(?:Bearer\s+|Basic\s+)?(?!\[redacted)[^\s\"'&,;}\]]+)")
_BEARER_RE = re.compile(r"(?i)\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}")
_JWT_RE = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")


def is_secret_key(key) -> bool:
    """Whether a mapping key or variable name names a secret (case-insensitive)."""
    name = str(key).lower().replace("-", "_")
    if "token" in name or "secret" in name or "password" in name:
        return True
    return name in OAUTH_KEYS or any(name == k or name.endswith("_" + k) or name.startswith(k + "_")
                                     for k in SECRET_KEYS)


def scrub_text(text: str, known: frozenset = frozenset()) -> str:
    """`text` with every secret value replaced by [redacted]; `known` are secret values found
    elsewhere (see `secrets_in`), masked wherever they appear."""
    if not text:
        return text
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    text = _SECRET_KEY_RE.sub(lambda m: f"{m.group('key')}{m.group('sep')}{MASK}", text)
    text = _BEARER_RE.sub(lambda m: f"{m.group(1)} {MASK}", text)
    return _JWT_RE.sub(MASK, text)


def secrets_in(value, *, depth: int = 0, found: set | None = None) -> set:
    """The secret values in `value`: strings held under secret-named keys (a frame's
    `refresh_token` variable, a header dict's Authorization) and values of key=value pairs
    with a secret name, at least 8 characters long (shorter ones would mask ordinary text).
    A secret found once is then masked everywhere: in another frame's arguments, a message…"""
    found = set() if found is None else found
    if depth > 12:
        return found
    if isinstance(value, dict):
        for k, v in value.items():
            if is_secret_key(k) and isinstance(v, str):
                _add(found, v)
            secrets_in(v, depth=depth + 1, found=found)
    elif isinstance(value, (list, tuple)):
        for v in value:
            secrets_in(v, depth=depth + 1, found=found)
    elif isinstance(value, str):
        for match in _SECRET_KEY_RE.finditer(value):
            _add(found, match.group("value"))
    return found


def _add(found: set, raw: str) -> None:
    value = raw.strip().strip("'\"")
    for prefix in ("Bearer ", "Basic ", "bearer ", "basic "):
        value = value.removeprefix(prefix)
    if len(value) >= 8 and value != MASK:
        found.add(value)


def scrub(value, *, depth: int = 0, known: frozenset | None = None):
    """A copy of `value` (str, dict, list, tuple, anything else untouched) with secrets masked:
    values under secret-named keys entirely, and in every string the secret values found anywhere
    in `value` plus bearer credentials, JWTs and key=value secrets. Bounded depth."""
    if known is None:
        known = frozenset(sorted(secrets_in(value), key=len, reverse=True))
    if depth > 12:
        return MASK
    if isinstance(value, str):
        return scrub_text(value, known)
    if isinstance(value, dict):
        return {k: (MASK if is_secret_key(k) and v not in (None, "") else scrub(v, depth=depth + 1, known=known))
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(scrub(v, depth=depth + 1, known=known) for v in value)
    return value
