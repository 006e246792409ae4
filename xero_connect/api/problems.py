"""Errors as RFC 9457 problem details (`application/problem+json`):
`{"type", "title", "status", "detail", "errors": [{"field", "message"}]}`."""
import logging
from http import HTTPStatus

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler

from .. import messages as words

CONTENT_TYPE = "application/problem+json"
log = logging.getLogger("xero.api")


def problem(status: int, detail: str, *, errors=None, type_: str = "about:blank") -> dict:
    body = {"type": type_, "title": HTTPStatus(status).phrase, "status": status, "detail": detail}
    if errors:
        body["errors"] = errors
    return body


def _flatten(detail, prefix="") -> list[dict]:
    if isinstance(detail, dict):
        out = []
        for key, value in detail.items():
            if isinstance(key, int):  # a list's element (DRF keys a ListSerializer's errors by index)
                out.extend(_flatten(value, f"{prefix}[{key}]"))
                continue
            name = key if key != "non_field_errors" else ""
            out.extend(_flatten(value, f"{prefix}.{name}" if prefix and name else (name or prefix)))
        return out
    if isinstance(detail, list):
        if all(isinstance(d, str) for d in detail):
            return [{"field": prefix, "message": str(d)} for d in detail]
        out = []
        for i, value in enumerate(detail):
            out.extend(_flatten(value, f"{prefix}[{i}]"))
        return out
    return [{"field": prefix, "message": str(detail)}]


def exception_handler(exc, context):
    if isinstance(exc, Http404):
        text = str(exc)
        # get_object_or_404 says "No <Model> matches the given query.": an internal model name.
        exc = exceptions.NotFound(words.API_NOT_FOUND if not text or text.endswith("matches the given query.")
                                  else text)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or "You may not do this.")
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        body = problem(response.status_code, "The request has problems: see errors.", errors=_flatten(exc.detail))
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        body = problem(response.status_code, str(detail))
    response.data = body
    response.content_type = CONTENT_TYPE
    return response


@csrf_exempt
def not_found(request, *args, **kwargs):
    """Any address under /api/ that is not an endpoint."""
    return JsonResponse(problem(404, "There is no such API endpoint. See /api/v1/schema/."), status=404,
                        content_type=CONTENT_TYPE)
