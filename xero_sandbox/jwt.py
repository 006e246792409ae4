"""Minimal HS256 JWTs for the sandbox's access and id tokens (shape like Xero's; the key
is derived from SECRET_KEY, so tokens are only meaningful to this sandbox)."""
import base64
import hashlib
import hmac
import json

from django.conf import settings


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _key() -> bytes:
    return hashlib.sha256(f"xero-sandbox-jwt:{settings.SECRET_KEY}".encode()).digest()


def encode(claims: dict) -> str:
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "xero-sandbox"}, separators=(",", ":")).encode())
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(_key(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def decode(token: str) -> dict | None:
    """The claims when the signature is ours, else None. Expiry is checked by the caller
    against the database (so the control endpoint can expire tokens early)."""
    try:
        header, payload, signature = token.split(".")
        expected = hmac.new(_key(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(signature)):
            return None
        return json.loads(_unb64(payload))
    except (ValueError, TypeError):
        return None


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
