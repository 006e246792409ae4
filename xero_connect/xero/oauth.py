"""OAuth 2.0 with Xero's identity service (requests-oauthlib): authorisation URL with PKCE
and state, code exchange, refresh (rotating), revocation, and /connections."""
import base64
import hashlib
import json
import logging
import os
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone as dt_timezone
from urllib.parse import urlparse

import requests
from oauthlib.oauth2.rfc6749 import errors as oauth_errors
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session

from ..config import xero_config
from . import errors
from .http import _request

# Xero may grant fewer scopes than asked; we record what was granted instead of failing.
os.environ.setdefault("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")


class _DropDebug(logging.Filter):
    def filter(self, record):
        return record.levelno > logging.DEBUG


# requests-oauthlib and oauthlib log whole token requests and responses at DEBUG. Tokens must
# never reach a log, whatever a deployment's logging configuration says.
for _name in ("requests_oauthlib", "oauthlib"):
    logging.getLogger(_name).addFilter(_DropDebug())
    logging.getLogger(_name).setLevel(logging.INFO)


@dataclass
class TokenSet:
    access_token: str
    refresh_token: str | None
    expires_at: datetime
    scopes: list[str] = field(default_factory=list)
    id_claims: dict = field(default_factory=dict)

    @property
    def xero_user_name(self) -> str:
        c = self.id_claims
        return c.get("name") or " ".join(p for p in (c.get("given_name"), c.get("family_name")) if p)

    @property
    def xero_user_email(self) -> str:
        return self.id_claims.get("email", "")


def new_state() -> str:
    return secrets.token_urlsafe(32)


def new_code_verifier() -> str:
    return secrets.token_urlsafe(64)[:96]


def code_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _allow_http_for_loopback(url: str) -> None:
    """oauthlib refuses plain http; the local sandbox on loopback is the one exception."""
    host = urlparse(url).hostname or ""
    if url.startswith("http://") and (host in ("localhost", "::1") or host.startswith("127.")):
        os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"


def _oauth_session(state: str | None = None) -> OAuth2Session:
    return OAuth2Session(
        client_id=xero_config().client_id,
        redirect_uri=xero_config().redirect_uri,
        scope=list(xero_config().scopes),
        state=state,
    )


def _client_auth() -> HTTPBasicAuth:
    return HTTPBasicAuth(xero_config().client_id, xero_config().client_secret)


def authorization_url(*, state: str, code_verifier: str) -> str:
    _allow_http_for_loopback(xero_config().authorize_url)
    url, _ = _oauth_session(state).authorization_url(
        xero_config().authorize_url, state=state,
        code_challenge=code_challenge(code_verifier), code_challenge_method="S256",
    )
    return url


def decode_id_token(id_token: str | None) -> dict:
    """Read the claims naming the Xero user (display only; not used for authorisation)."""
    if not id_token or id_token.count(".") < 2:
        return {}
    try:
        payload = id_token.split(".")[1]
        payload += "=" * (-len(payload) % 4)
        claims = json.loads(base64.urlsafe_b64decode(payload))
        return claims if isinstance(claims, dict) else {}
    except (ValueError, TypeError):
        return {}


def _token_set(token: dict) -> TokenSet:
    if not token.get("access_token"):
        raise errors.XeroUnavailable("Xero's token answer had no access token.")
    expires_in = float(token.get("expires_in") or 1800)
    scope = token.get("scope") or []
    if isinstance(scope, str):
        scope = scope.split()
    return TokenSet(
        access_token=token["access_token"],
        refresh_token=token.get("refresh_token"),
        expires_at=datetime.now(dt_timezone.utc) + timedelta(seconds=expires_in),
        scopes=list(scope),
        id_claims=decode_id_token(token.get("id_token")),
    )


def _map_oauth_failure(exc: Exception) -> errors.XeroError:
    if isinstance(exc, oauth_errors.InvalidGrantError):
        return errors.ReauthorisationRequired(errors.ReauthorisationRequired.INVALID_GRANT)
    if isinstance(exc, oauth_errors.OAuth2Error):
        status = getattr(exc, "status_code", None)
        if status and status >= 500:
            return errors.XeroUnavailable(f"Xero's sign-in service answered {status}.", status=status)
        return errors.OAuthError(exc.description or exc.error, error=exc.error or "", status=status)
    if isinstance(exc, requests.Timeout):
        return errors.XeroUnavailable("Xero's sign-in service did not answer in time.")
    if isinstance(exc, requests.RequestException):
        return errors.XeroUnavailable("Could not reach Xero's sign-in service.")
    if isinstance(exc, (ValueError, KeyError)):
        return errors.XeroUnavailable("Xero's sign-in service sent an answer that could not be read.")
    return errors.XeroUnavailable(f"Sign-in failed: {exc.__class__.__name__}")


def _token_call(fn):
    _allow_http_for_loopback(xero_config().token_url)
    try:
        return _token_set(fn())
    except errors.XeroError:
        raise
    except Exception as exc:  # noqa: BLE001 - every failure becomes a typed error
        raise _map_oauth_failure(exc) from exc


def exchange_code(*, code: str, code_verifier: str) -> TokenSet:
    oauth = _oauth_session()
    return _token_call(lambda: oauth.fetch_token(
        xero_config().token_url, code=code, code_verifier=code_verifier, auth=_client_auth(),
        include_client_id=False, timeout=xero_config().http_timeout,
    ))


def refresh(*, refresh_token: str) -> TokenSet:
    oauth = _oauth_session()
    return _token_call(lambda: oauth.refresh_token(
        xero_config().token_url, refresh_token=refresh_token, auth=_client_auth(),
        timeout=xero_config().http_timeout,
    ))


def revoke(*, refresh_token: str) -> None:
    """Revoking the refresh token removes every connection made with it."""
    _request("POST", xero_config().revoke_url, data={"token": refresh_token}, auth=_client_auth(),
             event="xero.token.revoke")


def list_connections(*, access_token: str, auth_event_id: str | None = None) -> list[dict]:
    params = {"authEventId": auth_event_id} if auth_event_id else None
    resp = _request("GET", xero_config().connections_url, access_token=access_token, params=params,
                    event="xero.connections.list")
    if not isinstance(resp.data, list):
        raise errors.XeroUnavailable("Xero's connections answer could not be read.")
    return resp.data


def delete_connection(*, access_token: str, connection_id: str) -> None:
    _request("DELETE", f"{xero_config().connections_url.rstrip('/')}/{connection_id}", access_token=access_token,
             event="xero.connections.delete")
