"""Secrets out of text: what logs and error reports must never carry.

Used by the JSON log formatter and by Sentry's before_send. It masks, wherever they appear:
bearer credentials, JWTs (Xero's access and id tokens are JWTs), and the values of keys named
like a secret (access_token, refresh_token, id_token, code, code_verifier, client_secret,
password, authorization, token, secret, state, …) in query strings, JSON, dict reprs and key=value text.
"""
import re

MASK = "[redacted]"

SECRET_KEYS = ("access_token", "refresh_token", "id_token", "code_verifier", "code", "client_secret", "password",
               "authorization", "token", "secret", "state", "api_key", "cookie", "sessionid", "csrftoken",
               "xero-tenant-id-secret", "dsn")
_SECRET_KEY_RE = re.compile(
    r"(?i)(?P<key>\b(?:[\w-]*_)?(?:access_token|refresh_token|id_token|code_verifier|client_secret|password|"
    r"authorization|token|secret|code|state|api_key|cookie|sessionid|csrftoken)\b)"
    r"(?P<sep>[\"']?\s*[:=]\s*[\"']?)(?P<value>(?:Bearer\s+|Basic\s+)?[^\s\"'&,;}\]]+)")
_BEARER_RE = re.compile(r"(?i)\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}")
_JWT_RE = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")


def is_secret_key(key) -> bool:
    """Whether a mapping key or variable name names a secret (case-insensitive)."""
    name = str(key).lower().replace("-", "_")
    return any(name == k or name.endswith("_" + k) or name.startswith(k + "_") for k in
               (k.replace("-", "_") for k in SECRET_KEYS)) or "token" in name or "secret" in name \
        or "password" in name


def scrub_text(text: str) -> str:
    """`text` with every secret value replaced by [redacted]."""
    if not text:
        return text
    text = _BEARER_RE.sub(lambda m: f"{m.group(1)} {MASK}", text)
    text = _JWT_RE.sub(MASK, text)
    return _SECRET_KEY_RE.sub(lambda m: f"{m.group('key')}{m.group('sep')}{MASK}", text)


def scrub(value, *, depth: int = 0):
    """A copy of `value` (str, dict, list, tuple, anything else untouched) with secrets masked:
    values under secret-named keys entirely, strings by `scrub_text`. Bounded depth."""
    if depth > 12:
        return MASK
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {k: (MASK if is_secret_key(k) and v not in (None, "") else scrub(v, depth=depth + 1))
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(scrub(v, depth=depth + 1) for v in value)
    return value
