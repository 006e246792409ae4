"""The sandbox's control endpoint needs its token, even in the demo: none configured → 403;
a wrong or missing header → 403; the token from settings → it works."""
import pytest
from django.test import Client


@pytest.fixture
def control(db):
    return Client()


def test_the_token_from_settings_opens_the_control_endpoint(control, settings):
    assert settings.XERO_SANDBOX_CONTROL_TOKEN
    response = control.get("/xero-sandbox/control/tenants",
                           HTTP_X_SANDBOX_CONTROL_TOKEN=settings.XERO_SANDBOX_CONTROL_TOKEN)
    assert response.status_code == 200 and response.json()["ok"] is True


@pytest.mark.parametrize("header", [None, "", "wrong", "ü"])
def test_a_missing_or_wrong_token_is_refused(control, settings, header):
    extra = {} if header is None else {"HTTP_X_SANDBOX_CONTROL_TOKEN": header}
    assert control.get("/xero-sandbox/control/tenants", **extra).status_code == 403
    assert control.post("/xero-sandbox/control/reset", data="{}", content_type="application/json",
                        **extra).status_code == 403


def test_with_no_token_configured_the_endpoint_is_closed(control, settings):
    settings.XERO_SANDBOX_CONTROL_TOKEN = ""
    response = control.get("/xero-sandbox/control/tenants", HTTP_X_SANDBOX_CONTROL_TOKEN="")
    assert response.status_code == 403 and "XERO_SANDBOX_CONTROL_TOKEN" in response.json()["error"]
