"""The Accounting API's front door: who is calling, for which tenant, within which limits,
with which injected faults, and idempotent replays. Answers in Xero's shapes."""
import hashlib
import json
import logging
import time
import uuid
from datetime import timedelta
from datetime import timezone as dt_timezone

from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.utils import timezone

from . import accounting, conf, contract, faults, identity, limits
from .models import Connection, Fault, IdempotencyRecord, SandboxOrganisation

log = logging.getLogger(__name__)

LEGACY_SCOPE = {
    "accounting.invoices": "accounting.transactions",
    "accounting.payments": "accounting.transactions",
    "accounting.manualjournals": "accounting.transactions",
    "accounting.settings": "accounting.settings",
    "accounting.contacts": "accounting.contacts",
}


def json_response(status, body, headers=None):
    if isinstance(body, str):
        response = HttpResponse(body, status=status, content_type="text/plain; charset=utf-8")
    else:
        response = HttpResponse(json.dumps(body), status=status, content_type="application/json; charset=utf-8")
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def problem(status, title, detail):
    return json_response(status, {"Type": None, "Title": title, "Status": status, "Detail": detail,
                                  "Instance": str(uuid.uuid4()), "Extensions": {}})


def unauthorized(error: identity.BearerError):
    if error.detail == "TokenExpired" and error.expired_at:
        at = error.expired_at.astimezone(dt_timezone.utc).strftime("%m/%d/%Y %H:%M:%S")
        return problem(401, "Unauthorized", f"TokenExpired: token expired at {at}")
    return problem(401, "Unauthorized", error.detail)


def forbidden():
    return problem(403, "Forbidden", "AuthenticationUnsuccessful")


def too_many(exc: limits.LimitExceeded, remaining: limits.Remaining | None):
    response = HttpResponse("", status=429, content_type="text/plain")
    response["Retry-After"] = str(exc.retry_after)
    response["X-Rate-Limit-Problem"] = exc.problem
    if remaining:
        for name, value in remaining.headers().items():
            response[name] = value
    return response


def tenant_of(request):
    raw = request.headers.get("xero-tenant-id", "").strip()
    try:
        return SandboxOrganisation.objects.filter(tenant_id=uuid.UUID(raw)).first()
    except ValueError:
        return None


def scope_allows(grant, resource, method) -> bool:
    granted = set(grant.scope.split())
    family = resource.scope
    legacy = LEGACY_SCOPE.get(family, family)
    wanted = {family, legacy}
    if method == "GET":
        wanted |= {family + ".read", legacy + ".read"}
    return bool(granted & wanted)


def handle(request, resource_name: str, item_id: str | None = None):
    resource = accounting.RESOURCES.get(resource_name.lower())
    if resource is None:
        return json_response(404, accounting.NOT_FOUND_TEXT)
    method = request.method.upper()
    if method not in {"GET", "PUT", "POST"} or (method != "GET" and resource.writer is None):
        return problem(405, "Method Not Allowed", f"{method} is not supported on {resource.name} by the sandbox.")
    try:
        bearer = identity.bearer_authenticate(request.headers.get("Authorization", ""))
    except identity.BearerError as exc:
        return unauthorized(exc)
    grant = bearer.grant
    org = tenant_of(request)
    if org is None or not Connection.objects.filter(app=grant.app_id, user=grant.user_id, organisation=org,
                                                    removed_at__isnull=True).exists():
        return forbidden()
    if not scope_allows(grant, resource, method):
        return problem(401, "Unauthorized", "AuthorizationUnsuccessful")

    path = request.path
    standing = faults.active(endpoint="api", organisation=org)
    fault = faults.pick(endpoint="api", kinds=faults.PRE_KINDS, method=method, path=path, candidates=standing)
    if fault is not None:
        with transaction.atomic():
            limits.count("api_calls")
            limits.count(f"api_calls:{org.tenant_id}")
            limits.count(f"faults:{fault.kind}")
            if fault.kind == Fault.Kind.RATE_LIMIT:
                limits.count(f"api_429:{org.tenant_id}")
        response = faults.pre_response(fault)
        return _with_headers(response, limits.peek(app_id=grant.app_id, org_id=org.pk))
    try:
        remaining, slot = limits.admit(app_id=grant.app_id, org_id=org.pk, tenant_key=str(org.tenant_id))
    except limits.LimitExceeded as exc:
        return too_many(exc, limits.peek(app_id=grant.app_id, org_id=org.pk))
    try:
        slow = faults.pick(endpoint="api", kinds=faults.SLOW_KINDS, method=method, path=path, candidates=standing)
        if slow is not None:
            time.sleep(slow.delay)
        provider = grant.app.name
        if method == "GET":
            status, body = accounting.read(resource, org, provider=provider, query=request.GET,
                                           headers=request.headers, item_id=item_id)
            response = json_response(status, body)
        else:
            response = _write(request, resource, org, grant, provider, item_id)
        post = faults.pick(endpoint="api", kinds=faults.POST_KINDS, method=method, path=path, candidates=standing)
        if post is not None:
            limits.count(f"faults:{post.kind}")
            if post.kind == Fault.Kind.TRUNCATED:
                response = faults.truncate(response)
            else:
                return faults.drop(request, response)
    finally:
        limits.slot_release(slot)
    return _with_headers(response, remaining)


def _with_headers(response, remaining):
    for name, value in remaining.headers().items():
        response[name] = value
    return response


def _write(request, resource, org, grant, provider, item_id):
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        body = None
    # summarizeErrors only where the file lists it for this method (not on POST /Payments).
    summarize = ("summarizeErrors" not in contract.write_parameters(resource.name, request.method)
                 or request.GET.get("summarizeErrors", "true").lower() != "false")

    def run():
        if body is None:
            return 400, accounting.bad_request(f"JSON for {resource.plural} could not be parsed")
        return accounting.write(resource, org, app=grant.app, provider=provider, body=body,
                                summarize_errors=summarize, item_id=item_id, query=request.GET)

    key = request.headers.get("Idempotency-Key")
    if not key:
        status, out = run()
        return json_response(status, out)
    return _idempotent(request, org, grant, key, run)


def _idempotent(request, org, grant, key, run):
    if len(key) > 128:
        return json_response(400, {"Title": "Bad Request", "Status": 400,
                                   "Detail": "Idempotency Key must be 128 characters or fewer.",
                                   "Message": "Idempotency Key must be 128 characters or fewer."})
    digest = hashlib.sha256()
    for part in (request.method, request.path, request.META.get("QUERY_STRING", "")):
        digest.update(part.encode() + b"\0")
    digest.update(request.body or b"")
    request_hash = digest.hexdigest()
    now = timezone.now()
    retention = timedelta(seconds=float(conf.get("IDEMPOTENCY_RETENTION")))
    # One transaction holds the key (unique constraint), the work and the stored answer:
    # a concurrent call with the same key waits for it, then replays it.
    with transaction.atomic():
        record = None
        for _ in range(2):
            try:
                with transaction.atomic():
                    record = IdempotencyRecord.objects.create(app=grant.app, organisation=org, key=key,
                                                              request_hash=request_hash, created_at=now)
                break
            except IntegrityError:
                earlier = IdempotencyRecord.objects.select_for_update().get(app=grant.app, organisation=org, key=key)
                if earlier.created_at <= now - retention:
                    earlier.delete()
                    continue
                if earlier.request_hash != request_hash:
                    message = f"Idempotency Key: {key} is used with a different request."
                    return json_response(400, {"Title": "Bad Request", "Status": 400, "Detail": message,
                                               "Message": message})
                limits.count("idempotent_replays")
                response = HttpResponse(bytes(earlier.body or b""), status=earlier.status_code or 409,
                                        content_type=earlier.content_type or "application/json")
                return response
        status, out = run()
        response = json_response(status, out)
        record.status_code = response.status_code
        record.content_type = response["Content-Type"]
        record.body = response.content
        record.save(update_fields=["status_code", "content_type", "body"])
        return response
