"""Every request the product's Xero seam sends, checked against Xero's official OpenAPI files.

`install()` puts a response hook on the seam's `requests` sessions (xero_connect.xero.http
.session), so it sees the PreparedRequest of every call the client makes — to the sandbox over
real HTTP, or to `responses` mocks — after the client built it: method, path, query, headers and
JSON body are validated with openapi-core against `xero_accounting.yaml` (Accounting API) or
`xero-identity.yaml` (/connections). The identity service's token, revocation and authorize
endpoints are not in either file and are not checked here. Violations are collected; the
suite's autouse fixture fails the test that caused them.
"""
import threading
import warnings
from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

OPENAPI_DIR = Path(__file__).resolve().parent.parent / "sandbox" / "openapi"
ACCOUNTING_MARK = "/api.xro/2.0/"

_lock = threading.Lock()
violations: list[str] = []
checked: list[str] = []


@lru_cache(maxsize=2)
def spec(name: str):
    from openapi_core import Config, OpenAPI
    # Spec validation off: the accounting file has a boolean parameter whose default is the
    # string 'false', which openapi-spec-validator refuses (docs/sandbox.md, "OpenAPI quirk").
    return OpenAPI.from_file_path(str(OPENAPI_DIR / name), config=Config(spec_validator_cls=None))


def _target(url: str):
    """(spec file, host, path in the file) for a Xero URL, or None when no file covers it."""
    parts = urlsplit(url)
    if ACCOUNTING_MARK in parts.path:
        return "xero_accounting.yaml", "https://api.xero.com", "/api.xro/2.0/" + parts.path.split(ACCOUNTING_MARK, 1)[1]
    tail = parts.path.rstrip("/").rsplit("/", 2)
    if tail[-1].lower() == "connections":
        return "xero-identity.yaml", "https://api.xero.com", "/Connections"
    if len(tail) >= 2 and tail[-2].lower() == "connections":
        return "xero-identity.yaml", "https://api.xero.com", f"/Connections/{tail[-1]}"
    return None


def problem(prepared) -> str | None:
    """What is wrong with one PreparedRequest according to the files (None: nothing, or no file
    covers the URL)."""
    from openapi_core.testing import MockRequest
    target = _target(prepared.url)
    if target is None:
        return None
    name, host, path = target
    query = urlsplit(prepared.url).query
    args = dict(parse_qsl(query, keep_blank_values=True))
    body = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body
    request = MockRequest(host, prepared.method.lower(), path, headers=dict(prepared.headers), args=args,
                          data=body, content_type=prepared.headers.get("Content-Type", "application/json"))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Unsupported scheme type")  # OAuth2: not checked by openapi-core
        try:
            spec(name).validate_request(request)
        except Exception as exc:  # openapi-core raises one of many validation error classes
            detail = "; ".join(str(e) for e in getattr(exc, "schema_errors", []) or []) or str(exc)
            cause = exc.__cause__
            if cause is not None:
                detail += f" ({cause})"
            return f"{prepared.method} {path}?{query}: {exc.__class__.__name__}: {detail[:600]}"
    return None


def hook(response, *args, **kwargs):
    found = problem(response.request)
    with _lock:
        checked.append(f"{response.request.method} {urlsplit(response.request.url).path}")
        if found:
            violations.append(found)
    return response


def install(monkeypatch) -> None:
    """Hook every session the seam hands out (sessions are per thread and made lazily)."""
    from xero_connect.xero import http
    original = http.session

    def session():
        s = original()
        if hook not in s.hooks["response"]:
            s.hooks["response"].append(hook)
        return s

    monkeypatch.setattr(http, "session", session)


def take() -> list[str]:
    with _lock:
        found = list(violations)
        violations.clear()
    return found
