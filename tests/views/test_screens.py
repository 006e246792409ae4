"""Finished screens: favicon, where platform staff land, the bounded organisation switcher,
the remembered date range, role-correct Refresh lists failures, and the pre-selected Xero
organisation on a first connect."""
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests import factories
from xero_connect.models import ListRefresh, PendingAuthorisation
from xero_connect.services import lists as lists_service


def test_favicon_is_served_not_404(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
    assert b"<svg" in response.content and "max-age" in response["Cache-Control"]


@pytest.mark.django_db
def test_platform_staff_land_on_the_admin_not_an_empty_portal(client):
    ops = factories.make_user("ops", is_staff=True)
    client.force_login(ops)
    assert client.get(reverse("home"))["Location"] == reverse("admin:index")


@pytest.mark.django_db
def test_switcher_suggestions_are_bounded_and_only_mine(client, member_user, other_org):
    for i in range(30):
        factories.add_member(factories.make_organisation(f"Bakery {i:02d}", slug=f"bakery-{i:02d}"), member_user)
    client.force_login(member_user)
    data = client.get(reverse("organisations_json"), {"q": "bakery"}).json()
    assert len(data["organisations"]) == 20 and data["more"] is True
    assert data["organisations"][0] == {"name": "Bakery 00", "url": reverse("organisation_home", args=["bakery-00"])}
    none = client.get(reverse("organisations_json"), {"q": other_org.name}).json()
    assert none == {"organisations": [], "more": False}
    # Every page's switcher lists at most 20, and moves only on Go.
    html = client.get(reverse("organisation_home", args=["bakery-00"])).content.decode()
    assert html.count("<option value=") == 20 and "onchange" not in html
    go = client.get(reverse("organisation_switch"), {"q": "bakery 07"})
    assert go["Location"] == reverse("organisation_home", args=["bakery-07"])
    assert client.get(reverse("organisation_switch"), {"q": other_org.name})["Location"].startswith(reverse("portal"))


def test_export_data_remembers_the_date_range_per_organisation(admin_client, org):
    page = reverse("exports_page", args=[org.slug])
    admin_client.get(page, {"from": "2025-01-01", "to": "2025-03-31"})
    html = admin_client.get(page).content.decode()
    assert 'value="2025-01-01"' in html and 'value="2025-03-31"' in html
    admin_client.get(page, {"from": "2025-02-01", "to": "2025-02-28"})
    assert 'value="2025-02-01"' in admin_client.get(page).content.decode()


def test_a_mistyped_range_is_remembered_as_shown_and_its_notice_given_once(admin_client, org):
    page = reverse("exports_page", args=[org.slug])
    first = admin_client.get(page, {"from": "2025-03-31", "to": "2025-01-01"}).content.decode()
    assert "wrong way round" in first
    again = admin_client.get(page).content.decode()
    assert "wrong way round" not in again
    assert 'value="2025-01-01"' in again and 'value="2025-03-31"' in again
    admin_client.get(page, {"from": "2025-13-45", "to": "2025-03-31"})
    assert "is not a date" not in admin_client.get(page).content.decode()


def test_refresh_failure_gives_an_admin_the_button_and_a_member_the_names(client, admin_user, member_user, org):
    refresh = ListRefresh.objects.create(organisation=org, trigger=ListRefresh.Trigger.MANUAL, lists=["accounts"])
    lists_service.lists_refresh_run(refresh_id=refresh.pk)
    url = reverse("lists_refresh_detail", args=[org.slug, refresh.pk])
    client.force_login(admin_user)
    admin_html = client.get(url).content.decode()
    assert "Press Connect to Xero" in admin_html and ">Connect to Xero</button>" in admin_html
    assert "Ask " not in admin_html.split('id="refresh-failure"')[1].split("</div>")[0]
    client.force_login(member_user)
    member_html = client.get(url).content.decode()
    assert "Ask Alice Admin (an Admin) to connect Xero." in member_html
    assert ">Connect to Xero</button>" not in member_html


def test_first_connect_preselects_the_xero_organisation_named_like_ours(admin_client, org, admin_user):
    tenants = [{"tenantId": "t-1", "tenantName": "Someone Else Ltd"},
               {"tenantId": "t-2", "tenantName": f" {org.name.upper()} "}]
    pending = PendingAuthorisation.objects.create(organisation=org, user=admin_user, tenants=tenants,
                                                  expires_at=timezone.now() + timedelta(minutes=10))
    html = admin_client.get(reverse("connection_choose", args=[org.slug, pending.pk])).content.decode()
    assert 'value="t-2" checked' in html and 'value="t-1" checked' not in html
    assert 'form="cancel-form">Cancel</button>' in html


def test_sign_in_error_is_an_alert_tied_to_the_fields(client, db):
    html = client.post(reverse("login"), {"username": "nobody", "password": "wrong"}).content.decode()
    assert 'id="sign-in-error" role="alert"' in html
    assert html.count('aria-invalid="true" aria-describedby="sign-in-error"') == 2


def test_a_form_from_a_page_out_of_date_gets_a_plain_page_not_djangos(admin_user, org):
    """A form sent from a tab opened before the user signed in again fails Django's CSRF check:
    the user reads what happened and the next step, not "CSRF verification failed"."""
    from django.test import Client
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin_user)
    response = browser.post(reverse("lists_refresh", args=[org.slug]), {"csrfmiddlewaretoken": "x" * 64})
    body = response.content.decode()
    assert response.status_code == 403
    assert "This page was out of date" in body and "reload the page" in body
    assert "CSRF verification failed" not in body
