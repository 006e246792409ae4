"""Xero's identity service, as business rules: consent, codes, tokens, connections.

The HTTP doors are in views/identity.py; this module does not know about requests.
"""
import base64
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from datetime import timezone as dt_timezone

from django.contrib.auth.hashers import check_password
from django.db import transaction
from django.utils import timezone

from . import conf, jwt
from .models import AccessToken, AuthorisationCode, Connection, Grant, RefreshToken, SandboxApp, SandboxUser

ISSUER = "https://identity.xero.com"  # what Xero puts in `iss`; kept for shape only


class OAuthError(Exception):
    """An OAuth error answer: {"error": code}, HTTP `status`."""

    def __init__(self, error, status=400, description=""):
        super().__init__(error)
        self.error = error
        self.status = status
        self.description = description


# --- users and apps ------------------------------------------------------------------


def user_authenticate(*, email: str, password: str) -> SandboxUser | None:
    user = SandboxUser.objects.filter(email__iexact=(email or "").strip()).first()
    if user and check_password(password or "", user.password):
        return user
    return None


def app_authenticate(*, client_id: str, client_secret: str | None) -> SandboxApp:
    app = SandboxApp.objects.filter(client_id=client_id or "").first()
    if app is None:
        raise OAuthError("invalid_client")
    if client_secret is not None and not app.secret_matches(client_secret):
        raise OAuthError("invalid_client")
    return app


# --- consent and codes ---------------------------------------------------------------


def consent_grant(*, app: SandboxApp, user: SandboxUser, organisations, scope: str, redirect_uri: str,
                  code_challenge: str = "", nonce: str = "") -> str:
    """The user allowed access to `organisations`: one auth event, its connections, and a
    single-use code. Returns the code.

    Re-consent of a tenant this app+user already reaches keeps the connection's id and
    createdDateUtc and moves it to the new auth event (updatedDateUtc = now), so the
    previous token family no longer owns it: revoking the old refresh token afterwards
    does not remove the fresh connection."""
    now = timezone.now()
    code = secrets.token_urlsafe(32)
    with transaction.atomic():
        grant = Grant.objects.create(app=app, user=user, scope=scope)
        for org in organisations:
            Connection.objects.update_or_create(
                app=app, user=user, organisation=org,
                defaults={"grant": grant, "updated_at": now, "removed_at": None, "removed_by": ""},
            )
        AuthorisationCode.objects.create(
            code_hash=jwt.sha256(code), grant=grant, redirect_uri=redirect_uri, code_challenge=code_challenge,
            nonce=nonce, expires_at=now + timedelta(seconds=conf.get("CODE_TTL")),
        )
    return code


def pkce_s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


# --- tokens --------------------------------------------------------------------------


@dataclass
class TokenSet:
    access_token: str
    expires_in: int
    refresh_token: str | None
    id_token: str | None
    scope: str

    def as_json(self):
        body = {"access_token": self.access_token, "expires_in": self.expires_in, "token_type": "Bearer",
                "scope": self.scope}
        if self.id_token:
            body["id_token"] = self.id_token
        if self.refresh_token:
            body["refresh_token"] = self.refresh_token
        return body


def _issue(grant: Grant, nonce: str = "") -> TokenSet:
    now = timezone.now()
    cfg = conf.get_many("ACCESS_TOKEN_TTL", "REFRESH_TOKEN_TTL")
    ttl = int(cfg["ACCESS_TOKEN_TTL"])
    jti = uuid.uuid4().hex
    epoch = int(now.timestamp())
    scopes = grant.scope.split()
    access = jwt.encode({
        "nbf": epoch, "exp": epoch + ttl, "iss": ISSUER, "aud": f"{ISSUER}/resources",
        "client_id": grant.app.client_id, "sub": grant.user.xero_userid.hex, "auth_time": epoch,
        "xero_userid": str(grant.user.xero_userid), "global_session_id": grant.auth_event_id.hex, "jti": jti,
        "authentication_event_id": str(grant.auth_event_id), "scope": scopes,
    })
    AccessToken.objects.create(jti=jti, grant=grant, expires_at=now + timedelta(seconds=ttl))
    refresh = None
    if "offline_access" in scopes:
        refresh = secrets.token_urlsafe(40)
        RefreshToken.objects.create(token_hash=jwt.sha256(refresh), grant=grant,
                                    expires_at=now + timedelta(seconds=int(cfg["REFRESH_TOKEN_TTL"])))
    id_token = None
    if "openid" in scopes:
        user = grant.user
        claims = {"nbf": epoch, "exp": epoch + 300, "iss": ISSUER, "aud": grant.app.client_id, "iat": epoch,
                  "at_hash": jwt.sha256(access)[:22], "sid": grant.auth_event_id.hex, "sub": user.xero_userid.hex,
                  "auth_time": epoch, "xero_userid": str(user.xero_userid),
                  "global_session_id": grant.auth_event_id.hex}
        if nonce:
            claims["nonce"] = nonce
        if "profile" in scopes:
            claims.update({"preferred_username": user.email, "given_name": user.first_name,
                           "family_name": user.last_name, "name": user.name})
        if "email" in scopes:
            claims["email"] = user.email
        id_token = jwt.encode(claims)
    return TokenSet(access_token=access, expires_in=ttl, refresh_token=refresh, id_token=id_token, scope=grant.scope)


def token_exchange_code(*, app: SandboxApp, code: str, redirect_uri: str, code_verifier: str | None,
                        public_client: bool = False) -> TokenSet:
    now = timezone.now()
    with transaction.atomic():
        row = (AuthorisationCode.objects.select_for_update(of=("self",)).select_related("grant__app", "grant__user")
               .filter(code_hash=jwt.sha256(code or "")).first())
        if row is None or row.used_at is not None or row.expires_at <= now or row.grant.app_id != app.id:
            raise OAuthError("invalid_grant")
        if row.grant.revoked_at is not None:
            raise OAuthError("invalid_grant")
        if redirect_uri and redirect_uri != row.redirect_uri:
            raise OAuthError("invalid_grant")
        if public_client and not row.code_challenge:
            raise OAuthError("invalid_client")
        if row.code_challenge:
            if not code_verifier or pkce_s256(code_verifier) != row.code_challenge:
                raise OAuthError("invalid_grant")
        row.used_at = now
        row.save(update_fields=["used_at"])
        return _issue(row.grant, nonce=row.nonce)


def token_refresh(*, app: SandboxApp, refresh_token: str) -> TokenSet:
    """Rotate: every refresh returns a new refresh token. The presented one stays usable
    for REFRESH_GRACE seconds after its first use (a lost response can be retried), then
    answers invalid_grant. Each use inside the grace period issues a new pair."""
    now = timezone.now()
    grace = timedelta(seconds=float(conf.get("REFRESH_GRACE")))
    with transaction.atomic():
        row = (RefreshToken.objects.select_for_update(of=("self",)).select_related("grant__app", "grant__user")
               .filter(token_hash=jwt.sha256(refresh_token or "")).first())
        if row is None or row.grant.app_id != app.id or row.grant.revoked_at is not None:
            raise OAuthError("invalid_grant")
        if row.expires_at <= now:
            raise OAuthError("invalid_grant")
        if row.rotated_at is not None and now > row.rotated_at + grace:
            raise OAuthError("invalid_grant")
        if row.rotated_at is None:
            row.rotated_at = now
            row.save(update_fields=["rotated_at"])
        return _issue(row.grant)


def token_revoke(*, app: SandboxApp, token: str) -> bool:
    """Revoke the family of a refresh token and remove every connection it made.
    Unknown tokens are ignored (RFC 7009)."""
    now = timezone.now()
    with transaction.atomic():
        row = RefreshToken.objects.select_related("grant").filter(token_hash=jwt.sha256(token or "")).first()
        if row is None or row.grant.app_id != app.id:
            return False
        grant_revoke(grant=row.grant, now=now, why="revocation")
    return True


def grant_revoke(*, grant: Grant, now=None, why="revocation"):
    now = now or timezone.now()
    Grant.objects.filter(pk=grant.pk, revoked_at__isnull=True).update(revoked_at=now)
    Connection.objects.filter(grant=grant, removed_at__isnull=True).update(removed_at=now, removed_by=why)


# --- bearer tokens ------------------------------------------------------------------


@dataclass
class Bearer:
    grant: Grant
    access: AccessToken


class BearerError(Exception):
    def __init__(self, detail, expired_at=None):
        super().__init__(detail)
        self.detail = detail
        self.expired_at = expired_at


def bearer_authenticate(authorization: str) -> Bearer:
    """The grant behind an `Authorization: Bearer` header, or BearerError."""
    if not authorization or not authorization.lower().startswith("bearer "):
        raise BearerError("AuthenticationUnsuccessful")
    claims = jwt.decode(authorization[7:].strip())
    if not claims or "jti" not in claims:
        raise BearerError("AuthenticationUnsuccessful")
    access = AccessToken.objects.select_related("grant__app", "grant__user").filter(jti=claims["jti"]).first()
    if access is None or access.grant.revoked_at is not None:
        raise BearerError("AuthenticationUnsuccessful")
    if access.expires_at <= timezone.now():
        raise BearerError("TokenExpired", expired_at=access.expires_at)
    return Bearer(grant=access.grant, access=access)


def connections_for(grant: Grant, auth_event_id: str | None = None):
    qs = (Connection.objects.filter(app=grant.app, user=grant.user, removed_at__isnull=True)
          .select_related("organisation", "grant").order_by("created_at"))
    if auth_event_id:
        qs = qs.filter(grant__auth_event_id=auth_event_id)
    return qs


def connection_as_json(conn: Connection) -> dict:
    def fmt(dt):
        return dt.astimezone(dt_timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f0")
    return {
        "id": str(conn.id), "authEventId": str(conn.grant.auth_event_id), "tenantId": str(conn.organisation.tenant_id),
        "tenantType": "ORGANISATION", "tenantName": conn.organisation.name,
        "createdDateUtc": fmt(conn.created_at), "updatedDateUtc": fmt(conn.updated_at),
    }
