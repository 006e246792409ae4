"""JSON log lines (LOG_FORMAT=json) carry the event name and the ids an operator searches by."""
from tests.observability.jsonlog import json_log_lines


def events(lines, name):
    return [line for line in lines if line.get("event") == name]


def test_a_request_line_carries_request_organisation_and_user_ids(admin_client, org, admin_user):
    with json_log_lines() as lines:
        response = admin_client.post(f"/o/{org.slug}/xero/connect/", HTTP_X_REQUEST_ID="req-4f1c2a9b")
    assert response["X-Request-ID"] == "req-4f1c2a9b"
    [line] = events(lines, "xero.oauth.start")
    assert line["request_id"] == "req-4f1c2a9b"
    assert line["organisation_id"] == org.pk and line["user_id"] == admin_user.pk
    assert line["level"] == "INFO" and line["logger"] and line["time"]


def test_an_unusable_request_id_is_replaced_by_a_fresh_one(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="x")  # answered before the id middleware
    assert "X-Request-ID" not in response
    response = client.get("/login/", HTTP_X_REQUEST_ID="bad id with spaces\n")
    assert len(response["X-Request-ID"]) == 32 and " " not in response["X-Request-ID"]


def test_a_worker_task_line_carries_the_task(db):
    from django_q.tasks import async_task

    with json_log_lines() as lines:
        async_task("xero_connect.tasks.exports.export_sweep", task_name="sweep-now")  # sync in tests
    [line] = events(lines, "xero.exports.sweep")
    assert line["task_name"] == "sweep-now" and line["task_id"]


def test_plain_text_stays_the_default():
    from django.conf import settings

    assert settings.LOG_FORMAT == "plain"
    assert settings.LOGGING["handlers"]["console"]["formatter"] == "plain"


def test_ids_in_a_message_become_fields():
    import logging

    with json_log_lines() as lines:
        logging.getLogger("xero.token").warning(
            "xero.token.refresh.failed connection=42 tenant=7a1c-tenant error=ReauthorisationRequired")
    [line] = events(lines, "xero.token.refresh.failed")
    assert line["connection_id"] == 42 and line["tenant_id"] == "7a1c-tenant"


def test_secrets_are_masked_but_ordinary_codes_and_states_stay_readable():
    import logging

    with json_log_lines() as lines:
        logging.getLogger("xero.oauth").warning(
            "xero.oauth.callback.bad url=/xero/callback/?code=c0de-SECRET-1&state=st-SECRET-2",
            extra={"status_code": 400, "export_state": "queued"})
    [line] = events(lines, "xero.oauth.callback.bad")
    assert "SECRET" not in str(line) and "code=[redacted]&state=[redacted]" in line["message"]
    assert line["status_code"] == 400 and line["export_state"] == "queued"
