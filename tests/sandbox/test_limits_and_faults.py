"""Limits, idempotency and injected faults, each observed from a client over HTTP."""
import json
import threading
import time

import pytest
import requests

from tests.workers import wait_for
from xero_sandbox import services
from xero_sandbox.models import InFlightCall

from .conftest import NZ, AU
from .test_accounting import invoice


@pytest.fixture
def nz(connected, tenant_ids):
    return tenant_ids[NZ]


def test_the_61st_call_in_a_minute_gets_429(connected, nz, settings):
    settings.XERO_SANDBOX_MINUTE_SECONDS = 20.0
    services.limits_reset()  # a fresh (time-scaled) minute starts now, so all 61 calls share it
    answers = [connected.api("GET", "Currencies", tenant=nz) for _ in range(61)]
    assert [a.status_code for a in answers[:60]] == [200] * 60
    assert answers[59].headers["X-MinLimit-Remaining"] == "0"
    assert answers[0].headers["X-MinLimit-Remaining"] == "59"
    assert int(answers[0].headers["X-DayLimit-Remaining"]) == 4999
    refused = answers[60]
    assert refused.status_code == 429
    assert refused.headers["X-Rate-Limit-Problem"] == "minute"
    assert 1 <= int(refused.headers["Retry-After"]) <= 20
    # Another tenant has its own minute.
    assert connected.api("GET", "Currencies", tenant=services.organisation_get(AU).tenant_id).status_code == 200
    assert services.counts(tenant=NZ)["tenants"][nz]["api_429"] == 1


def test_the_budget_comes_back_after_retry_after(connected, nz, settings):
    settings.XERO_SANDBOX_MINUTE_SECONDS = 1.5
    settings.XERO_SANDBOX_LIMIT_MINUTE = 2
    services.limits_reset()
    assert [connected.api("GET", "Currencies", tenant=nz).status_code for _ in range(2)] == [200, 200]
    refused = connected.api("GET", "Currencies", tenant=nz)
    assert refused.status_code == 429 and refused.headers["X-Rate-Limit-Problem"] == "minute"
    assert int(refused.headers["Retry-After"]) in {1, 2}
    time.sleep(int(refused.headers["Retry-After"]))
    assert connected.api("GET", "Currencies", tenant=nz).status_code == 200


def test_day_and_app_limits(connected, nz, settings):
    settings.XERO_SANDBOX_LIMIT_DAY = 3
    for _ in range(3):
        assert connected.api("GET", "Currencies", tenant=nz).status_code == 200
    refused = connected.api("GET", "Currencies", tenant=nz)
    assert (refused.status_code, refused.headers["X-Rate-Limit-Problem"]) == (429, "day")
    settings.XERO_SANDBOX_LIMIT_APP_MINUTE = 3  # three calls counted so far
    settings.XERO_SANDBOX_LIMIT_DAY = 5000
    au = services.organisation_get(AU).tenant_id
    refused = connected.api("GET", "Currencies", tenant=au)
    assert (refused.status_code, refused.headers["X-Rate-Limit-Problem"]) == (429, "appminute")


def test_a_sixth_concurrent_call_is_refused(connected, nz):
    services.set_fault(kind="slow", tenant=NZ, delay=1.5, count=5)
    results = []

    def call():
        results.append(connected.api("GET", "Currencies", tenant=nz, timeout=10))

    slow = [threading.Thread(target=call) for _ in range(5)]
    for t in slow:
        t.start()
    organisation = services.organisation_get(NZ)
    wait_for(lambda: InFlightCall.objects.filter(organisation=organisation).count() == 5, timeout=10,
             what="the five slow calls to hold their slots")
    sixth = requests.get(f"{connected.base}/xero-sandbox/api.xro/2.0/Currencies", timeout=10, headers={
        "Authorization": f"Bearer {connected.tokens['access_token']}", "xero-tenant-id": nz})
    for t in slow:
        t.join()
    assert sixth.status_code == 429
    assert sixth.headers["X-Rate-Limit-Problem"] == "concurrent"
    assert sorted(r.status_code for r in results) == [200] * 5
    assert connected.api("GET", "Currencies", tenant=nz).status_code == 200  # slots were released


def test_idempotent_replay_returns_the_first_answer_and_counts(connected, nz):
    headers = {"Idempotency-Key": "export-42"}
    first = connected.api("PUT", "Invoices", tenant=nz, body={"Invoices": [invoice()]}, headers=headers)
    replay = connected.api("PUT", "Invoices", tenant=nz, body={"Invoices": [invoice()]}, headers=headers)
    assert first.status_code == replay.status_code == 200
    assert replay.json() == first.json()
    assert services.documents_count(tenant=NZ) == 1
    assert int(replay.headers["X-MinLimit-Remaining"]) == int(first.headers["X-MinLimit-Remaining"]) - 1

    mismatch = connected.api("PUT", "Invoices", tenant=nz, body={"Invoices": [invoice(Reference="other")]},
                             headers=headers)
    assert mismatch.status_code == 400
    assert mismatch.json()["Detail"] == "Idempotency Key: export-42 is used with a different request."

    # Errors are replayed too.
    bad = {"Invoices": [invoice(CurrencyCode="JPY")]}
    first_error = connected.api("PUT", "Invoices", tenant=nz, body=bad, headers={"Idempotency-Key": "k2"})
    services.currency_enable(tenant=NZ, code="JPY")
    replayed_error = connected.api("PUT", "Invoices", tenant=nz, body=bad, headers={"Idempotency-Key": "k2"})
    assert first_error.status_code == replayed_error.status_code == 400
    assert replayed_error.json() == first_error.json()
    too_long = connected.api("PUT", "Invoices", tenant=nz, body=bad, headers={"Idempotency-Key": "k" * 129})
    assert too_long.status_code == 400


def test_retention_window_expires(connected, nz, settings):
    settings.XERO_SANDBOX_IDEMPOTENCY_RETENTION = 0
    for _ in range(2):
        connected.api("PUT", "Invoices", tenant=nz, body={"Invoices": [invoice(InvoiceNumber=None)]},
                      headers={"Idempotency-Key": "short-lived"})
    assert services.documents_count(tenant=NZ) == 2


def test_concurrent_calls_with_one_key_create_once(connected, nz):
    answers = []

    def put():
        answers.append(connected.api("PUT", "Invoices", tenant=nz, body={"Invoices": [invoice()]},
                                     headers={"Idempotency-Key": "race"}))

    threads = [threading.Thread(target=put) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [a.status_code for a in answers] == [200] * 4
    assert len({a.json()["Invoices"][0]["InvoiceID"] for a in answers}) == 1
    assert services.documents_count(tenant=NZ) == 1


def test_maintenance_html_and_429_storm(connected, nz):
    services.set_fault(kind="maintenance", tenant=NZ, count=1)
    down = connected.api("GET", "Invoices", tenant=nz)
    assert down.status_code == 503 and down.text == "The Xero API is currently offline for maintenance"
    assert down.headers["Content-Type"].startswith("text/plain")
    assert connected.api("GET", "Invoices", tenant=nz).status_code == 200  # count=1 spent

    services.set_fault(kind="html", tenant=NZ, count=1, status=502)
    html = connected.api("GET", "Invoices", tenant=nz)
    assert html.status_code == 502 and html.text.startswith("<!DOCTYPE html>")

    services.set_fault(kind="rate_limit", tenant=NZ, count=2, problem="day", retry_after=7)
    for _ in range(2):
        storm = connected.api("GET", "Invoices", tenant=nz)
        assert (storm.status_code, storm.headers["Retry-After"], storm.headers["X-Rate-Limit-Problem"]) == (
            429, "7", "day")
    assert connected.api("GET", "Invoices", tenant=nz).status_code == 200


def test_faults_target_one_tenant_and_clear(connected, tenant_ids):
    services.set_fault(kind="maintenance", tenant=NZ)
    assert connected.api("GET", "Invoices", tenant=tenant_ids[NZ]).status_code == 503
    assert connected.api("GET", "Invoices", tenant=tenant_ids[AU]).status_code == 200
    services.clear_faults()
    assert connected.api("GET", "Invoices", tenant=tenant_ids[NZ]).status_code == 200


def test_truncated_body_after_commit(connected, nz):
    services.set_fault(kind="truncated", tenant=NZ, methods="PUT", count=1)
    answer = connected.api("PUT", "Invoices", tenant=nz, body={"Invoices": [invoice()]})
    assert answer.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(answer.text)
    assert services.documents_count(tenant=NZ) == 1


def test_drop_after_commit_is_a_connection_error_but_the_invoice_exists(connected, nz):
    services.set_fault(kind="drop", tenant=NZ, methods="PUT,POST", count=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        connected.api("PUT", "Invoices", tenant=nz, body={"Invoices": [invoice(InvoiceNumber="INV-DROP")]},
                      headers={"Idempotency-Key": "lost-answer"})
    assert services.documents_count(tenant=NZ) == 1
    # The client's retry with the same key gets the stored answer, not a duplicate.
    retry = connected.api("PUT", "Invoices", tenant=nz, body={"Invoices": [invoice(InvoiceNumber="INV-DROP")]},
                          headers={"Idempotency-Key": "lost-answer"})
    assert retry.status_code == 200 and retry.json()["Invoices"][0]["InvoiceNumber"] == "INV-DROP"
    assert services.documents_count(tenant=NZ) == 1


def test_control_endpoint(connected, nz, settings):
    base = f"{connected.base}/xero-sandbox/control"
    control = requests.Session()  # every call carries the control token, read from settings
    control.headers["X-Sandbox-Control-Token"] = settings.XERO_SANDBOX_CONTROL_TOKEN
    made = control.post(f"{base}/fault", json={"kind": "maintenance", "tenant": NZ, "count": 1}).json()
    assert made["ok"] and made["result"]["kind"] == "maintenance"
    assert connected.api("GET", "Invoices", tenant=nz).status_code == 503
    control.post(f"{base}/configure", json={"ACCESS_TOKEN_TTL": 60})
    connected.api("PUT", "Invoices", tenant=nz, body={"Invoices": [invoice()]})
    counts = control.get(f"{base}/counts", params={"tenant": NZ}).json()["result"]
    assert counts["tenants"][nz]["invoices"] == 1 and counts["tenants"][nz]["api_calls"] == 2
    expired = control.post(f"{base}/expire-tokens", json={"tenant": NZ}).json()["result"]["expired"]
    assert expired >= 1
    assert connected.api("GET", "Invoices", tenant=nz).status_code == 401
    fresh = connected.token(grant_type="refresh_token", refresh_token=connected.tokens["refresh_token"]).json()
    assert fresh["expires_in"] == 60
    assert control.post(f"{base}/fault", json={"kind": "nonsense"}).status_code == 400
    assert control.post(f"{base}/unknown", json={}).status_code == 404
    assert control.post(f"{base}/reset", json={}).json()["ok"]
    assert services.documents_count() == 0
