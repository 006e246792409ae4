"""The seed (idempotent, realistic) and the sandbox's own pages."""
from django.core.management import call_command

from xero_sandbox import services
from xero_sandbox.models import Account, Contact, SandboxOrganisation, SandboxUser, TaxRate
from xero_sandbox.seed import seed_sandbox


def test_seed_is_idempotent_and_looks_like_small_businesses(db):
    seed_sandbox()
    call_command("seed_sandbox")
    orgs = SandboxOrganisation.objects.order_by("base_currency")
    assert [o.base_currency for o in orgs] == ["AUD", "GBP", "NZD", "USD"]
    assert all(o.short_code.startswith("!") for o in orgs)
    nz = orgs.get(base_currency="NZD")
    assert Account.objects.get(organisation=nz, code="455").status == "ARCHIVED"
    assert {"090", "200", "310", "400", "610", "800"} <= set(Account.objects.filter(organisation=nz)
                                                              .values_list("code", flat=True))
    assert {"OUTPUT2", "INPUT2", "NONE"} <= set(TaxRate.objects.filter(organisation=nz).values_list("tax_type", flat=True))
    assert Contact.objects.filter(organisation=nz).count() == 31
    assert SandboxUser.objects.get(email="solo@xero.example").organisations.count() == 1
    assert SandboxUser.objects.get(email="demo@xero.example").organisations.count() == 4


def test_reset_forgets_documents_and_reseeds(seeded):
    services.add_contact(tenant="!kWh4R", name="Temporary")
    services.sandbox_reset()
    assert not Contact.objects.filter(name="Temporary").exists()
    assert SandboxOrganisation.objects.count() == 4


def test_index_page_explains_and_offers_sign_in(seeded, client):
    page = client.get("/xero-sandbox/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "local, faithful stand-in" in html and "demo@xero.example" in html and "Harbor Point Bike Co." in html


def test_organisation_pages_need_the_sandbox_sign_in(seeded, client):
    tenant = services.organisation_get("!kWh4R").tenant_id
    assert client.get(f"/xero-sandbox/orgs/{tenant}/").status_code == 302
    client.post("/xero-sandbox/identity/login", {"email": "solo@xero.example", "password": "xero-demo"})
    assert client.get(f"/xero-sandbox/orgs/{tenant}/").status_code == 200
    other = services.organisation_get("!hP9bC").tenant_id
    assert client.get(f"/xero-sandbox/orgs/{other}/").status_code == 404  # not one of Sam's
