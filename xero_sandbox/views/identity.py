"""Xero's identity endpoints: sign-in, consent (authorize), token, revocation, connections."""
import base64
import json
from urllib.parse import unquote, urlencode, urlsplit, urlunsplit, parse_qsl

from django.core import signing
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from .. import conf, faults, identity
from ..gateway import json_response, problem, unauthorized
from ..models import Connection, SandboxApp, SandboxUser

COOKIE = "xero_sandbox_session"
COOKIE_SALT = "xero_sandbox.session"
KNOWN_SCOPE_PREFIXES = ("accounting.", "payroll.", "files", "assets", "projects", "bankfeeds", "finance.",
                        "app.connections", "marketplace.")
OIDC_SCOPES = {"openid", "profile", "email", "offline_access"}


# --- the sandbox user's own session -----------------------------------------------------


def current_user(request) -> SandboxUser | None:
    try:
        user_id = request.get_signed_cookie(COOKIE, salt=COOKIE_SALT, max_age=int(conf.get("SESSION_AGE")))
    except (KeyError, signing.BadSignature):
        return None
    return SandboxUser.objects.filter(pk=user_id).first()


def _safe_next(request, value):
    if value and value.startswith("/xero-sandbox/") and url_has_allowed_host_and_scheme(value, allowed_hosts=None):
        return value
    return reverse("xero_sandbox:index")


@require_http_methods(["GET", "POST"])
def login(request):
    next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next"))
    error = ""
    if request.method == "POST":
        user = identity.user_authenticate(email=request.POST.get("email", ""), password=request.POST.get("password", ""))
        if user is not None:
            response = HttpResponseRedirect(next_url)
            response.set_signed_cookie(COOKIE, str(user.pk), salt=COOKIE_SALT, max_age=int(conf.get("SESSION_AGE")),
                                       httponly=True, samesite="Lax", path="/xero-sandbox/")
            return response
        error = "Your email or password is incorrect."
    return render(request, "xero_sandbox/login.html", {"next": next_url, "error": error,
                                                        "email": request.POST.get("email", "")},
                  status=401 if error else 200)


@require_http_methods(["POST"])
def logout(request):
    response = HttpResponseRedirect(reverse("xero_sandbox:index"))
    response.delete_cookie(COOKIE, path="/xero-sandbox/")
    return response


# --- authorize / consent -------------------------------------------------------------------


def _redirect_with(uri, params):
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + [(k, v) for k, v in params.items() if v is not None]
    return HttpResponseRedirect(urlunsplit(parts._replace(query=urlencode(query))))


def _error_page(request, message, status=400):
    return render(request, "xero_sandbox/error.html", {"message": message}, status=status)


@require_http_methods(["GET", "POST"])
def authorize(request):
    params = request.GET
    app = SandboxApp.objects.filter(client_id=params.get("client_id", "")).first()
    if app is None:
        return _error_page(request, "unauthorized_client: this client_id is not registered with the sandbox.")
    redirect_uri = params.get("redirect_uri", "")
    if not app.allows_redirect(redirect_uri):
        return _error_page(request, "Invalid redirect_uri: it is not one of the app's registered redirect URIs.")
    state = params.get("state")
    if params.get("response_type") != "code":
        return _redirect_with(redirect_uri, {"error": "unsupported_response_type", "state": state})
    scopes = params.get("scope", "").split()
    bad = [sc for sc in scopes if sc not in OIDC_SCOPES and not sc.startswith(KNOWN_SCOPE_PREFIXES)]
    if not scopes or bad:
        return _redirect_with(redirect_uri, {"error": "invalid_scope", "state": state})
    challenge = params.get("code_challenge", "")
    if challenge and params.get("code_challenge_method", "plain") != "S256":
        return _redirect_with(redirect_uri, {"error": "invalid_request", "state": state,
                                             "error_description": "Only code_challenge_method=S256 is supported"})

    user = current_user(request)
    if user is None:
        return HttpResponseRedirect(f"{reverse('xero_sandbox:login')}?{urlencode({'next': request.get_full_path()})}")
    organisations = list(user.organisations.order_by("name"))
    if request.method == "POST":
        if request.POST.get("action") != "allow":
            return _redirect_with(redirect_uri, {"error": "access_denied", "state": state})
        chosen = set(request.POST.getlist("tenant"))
        granted = [org for org in organisations if str(org.tenant_id) in chosen]
        if not granted:
            return render(request, "xero_sandbox/consent.html", {
                "app": app, "sandbox_user": user, "organisations": organisations, "scopes": scopes,
                "error": "Select at least one organisation to connect.", "chosen": chosen}, status=400)
        code = identity.consent_grant(app=app, user=user, organisations=granted, scope=" ".join(scopes),
                                      redirect_uri=redirect_uri, code_challenge=challenge,
                                      nonce=params.get("nonce", ""))
        return _redirect_with(redirect_uri, {"code": code, "scope": " ".join(scopes), "state": state,
                                             "session_state": code[:16]})
    connected = set(Connection.objects.filter(app=app, user=user, removed_at__isnull=True)
                    .values_list("organisation__tenant_id", flat=True))
    return render(request, "xero_sandbox/consent.html", {
        "app": app, "sandbox_user": user, "organisations": organisations, "scopes": scopes, "connected": connected,
        "chosen": {str(o.tenant_id) for o in organisations}})


# --- token and revocation (form posts with HTTP Basic client auth) ------------------------------


def _client(request):
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("basic "):
        try:
            raw = base64.b64decode(header[6:].strip()).decode()
            client_id, _, secret = raw.partition(":")
            return identity.app_authenticate(client_id=unquote(client_id), client_secret=unquote(secret))
        except (ValueError, UnicodeDecodeError):
            raise identity.OAuthError("invalid_client")
    client_id = request.POST.get("client_id", "")
    secret = request.POST.get("client_secret")
    if secret is None and request.POST.get("grant_type") != "authorization_code":
        # Only the PKCE code exchange may omit the secret (checked against the code's challenge).
        raise identity.OAuthError("invalid_client")
    app = identity.app_authenticate(client_id=client_id, client_secret=secret)
    app.public_client = secret is None
    return app


def _oauth_error(exc: identity.OAuthError):
    body = {"error": exc.error}
    if exc.description:
        body["error_description"] = exc.description
    return HttpResponse(json.dumps(body), status=exc.status, content_type="application/json")


def _identity_fault(request, endpoint):
    fault = faults.pick(endpoint=endpoint, kinds=faults.PRE_KINDS | faults.SLOW_KINDS, method=request.method,
                        path=request.path)
    if fault is None:
        return None
    if fault.kind == "slow":
        import time
        time.sleep(fault.delay)
        return None
    return faults.pre_response(fault)


@csrf_exempt
@require_http_methods(["POST"])
def token(request):
    faulted = _identity_fault(request, "token")
    if faulted is not None:
        return faulted
    try:
        app = _client(request)
        grant_type = request.POST.get("grant_type")
        if grant_type == "authorization_code":
            tokens = identity.token_exchange_code(app=app, code=request.POST.get("code", ""),
                                                  public_client=getattr(app, "public_client", False),
                                                  redirect_uri=request.POST.get("redirect_uri", ""),
                                                  code_verifier=request.POST.get("code_verifier"))
        elif grant_type == "refresh_token":
            tokens = identity.token_refresh(app=app, refresh_token=request.POST.get("refresh_token", ""))
        else:
            raise identity.OAuthError("unsupported_grant_type")
    except identity.OAuthError as exc:
        return _oauth_error(exc)
    response = HttpResponse(json.dumps(tokens.as_json()), content_type="application/json")
    response["Cache-Control"] = "no-store"
    return response


@csrf_exempt
@require_http_methods(["POST"])
def revocation(request):
    try:
        app = _client(request)
    except identity.OAuthError as exc:
        return _oauth_error(exc)
    identity.token_revoke(app=app, token=request.POST.get("token", ""))
    return HttpResponse(status=200)


# --- connections -----------------------------------------------------------------------------


@csrf_exempt
@require_http_methods(["GET"])
def connections(request):
    faulted = _identity_fault(request, "connections")
    if faulted is not None:
        return faulted
    try:
        bearer = identity.bearer_authenticate(request.headers.get("Authorization", ""))
    except identity.BearerError as exc:
        return unauthorized(exc)
    rows = identity.connections_for(bearer.grant, auth_event_id=request.GET.get("authEventId") or None)
    return json_response(200, [identity.connection_as_json(c) for c in rows])


@csrf_exempt
@require_http_methods(["DELETE"])
def connection_delete(request, connection_id):
    faulted = _identity_fault(request, "connections")
    if faulted is not None:
        return faulted
    try:
        bearer = identity.bearer_authenticate(request.headers.get("Authorization", ""))
    except identity.BearerError as exc:
        return unauthorized(exc)
    from django.utils import timezone
    removed = Connection.objects.filter(id=connection_id, app=bearer.grant.app, user=bearer.grant.user,
                                        removed_at__isnull=True).update(removed_at=timezone.now(),
                                                                        removed_by="api-delete")
    if not removed:
        return problem(404, "Not Found", "Connection not found")
    return HttpResponse(status=204)
