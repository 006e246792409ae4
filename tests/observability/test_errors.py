"""Error reports (sentry-sdk) never carry a token, a code or an Authorization header.

sentry-sdk runs for real — its own event processing, local-variable capture and before_send —
with a transport that keeps the events instead of sending them (no network)."""
import json

import pytest
import sentry_sdk
from django.test import override_settings
from django.urls import path
from sentry_sdk.transport import Transport

from xero_connect.observability.errors import install_task_reporter, sentry_init
from xero_connect.xero.oauth import TokenSet

ACCESS = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNlY3JldA"  # JWT-shaped, like Xero's
REFRESH = "rt-6b1f0e-SECRET-refresh"
CODE = "auth-code-SECRET-77"


class Captured(Transport):
    events: list = []

    def capture_envelope(self, envelope):
        for item in envelope.items:
            if item.type in ("event", "transaction") and item.payload.json:
                Captured.events.append(item.payload.json)


@pytest.fixture
def sentry():
    Captured.events = []
    sentry_init(dsn="https://public@sentry.invalid/1", environment="test", transport=Captured)
    yield Captured.events
    sentry_sdk.get_client().close()
    sentry_sdk.init()  # off again: no DSN


class TokenExchangeFailed(Exception):
    pass


def exchange_code_failing(code, refresh_token):
    access_token = ACCESS  # noqa: F841 — locals a careless frame would show
    headers = {"Authorization": f"Bearer {ACCESS}", "Accept": "application/json"}  # noqa: F841
    tokens = TokenSet(access_token=ACCESS, refresh_token=refresh_token, expires_at=None)  # noqa: F841
    url = f"https://identity.example/connect/token?code={code}&state=s7a7e-value"  # noqa: F841
    raise TokenExchangeFailed(f"token exchange failed for refresh_token={refresh_token}")


def test_before_send_scrubs_tokens_planted_in_an_exceptions_locals(sentry):
    try:
        exchange_code_failing(CODE, REFRESH)
    except TokenExchangeFailed:
        sentry_sdk.capture_exception()
    sentry_sdk.flush()

    [event] = sentry
    sent = json.dumps(event)
    assert not [s for s in (ACCESS, REFRESH, CODE, "s7a7e-value") if s in sent]
    frame = event["exception"]["values"][-1]["stacktrace"]["frames"][-1]
    assert frame["function"] == "exchange_code_failing"
    assert set(frame["vars"]) >= {"access_token", "headers", "tokens", "url", "code"}  # captured, then masked
    assert "application/json" in sent  # what is not secret stays readable
    assert event["exception"]["values"][-1]["type"] == "TokenExchangeFailed"


def test_a_failed_django_q_task_reaches_sentry_scrubbed(sentry, db):
    from django_q.tasks import async_task

    install_task_reporter()
    with pytest.raises(TokenExchangeFailed):  # tasks run inline in tests; the worker code path is the same
        async_task("tests.observability.test_errors.exchange_code_failing", CODE, REFRESH)
    sentry_sdk.flush()

    reports = [e for e in sentry if e.get("exception")]
    assert len(reports) == 1
    assert reports[0]["exception"]["values"][-1]["type"] == "TokenExchangeFailed"
    assert not [s for s in (ACCESS, REFRESH, CODE) if s in json.dumps(sentry)]


def failing_view(request):
    refresh_token = REFRESH  # noqa: F841
    raise TokenExchangeFailed("Xero said no")


urlpatterns = [path("fails/", failing_view)]


@override_settings(ROOT_URLCONF=__name__, DEBUG=False)
def test_a_failing_request_is_reported_without_its_authorization_header_code_or_cookies(sentry, transactional_db):
    """Through the WSGI application, as a server calls it (sentry-sdk reads the request there)."""
    from wsgiref.util import setup_testing_defaults

    from django.core.wsgi import get_wsgi_application

    environ = {"PATH_INFO": "/fails/", "QUERY_STRING": f"code={CODE}&state=state-SECRET-value&page=2",
               "HTTP_AUTHORIZATION": f"Bearer {ACCESS}", "HTTP_USER_AGENT": "probe/1.0",
               "HTTP_COOKIE": "sessionid=session-SECRET-cookie-value", "HTTP_HOST": "testserver"}
    setup_testing_defaults(environ)
    statuses = []
    b"".join(get_wsgi_application()(environ, lambda status, headers, exc_info=None: statuses.append(status)))
    assert statuses[0].startswith("500")
    sentry_sdk.flush()

    [event] = [e for e in sentry if e.get("exception")]
    assert event["exception"]["values"][-1]["type"] == "TokenExchangeFailed"
    assert event["request"]["url"].endswith("/fails/") and event["request"]["headers"]["User-Agent"] == "probe/1.0"
    assert "page=2" in event["request"]["query_string"]
    sent = json.dumps(event)
    assert not [s for s in (ACCESS, REFRESH, CODE, "state-SECRET-value", "session-SECRET-cookie-value") if s in sent]


def test_off_without_dsn():
    from django.conf import settings

    assert settings.SENTRY_DSN == ""
    assert sentry_sdk.get_client().transport is None  # nothing would be sent anywhere
