"""The API keys and Webhooks pages as an Admin and a Member click them, audited with axe-core
(no serious or critical WCAG 2.1 AA violation)."""
import re

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.browser.test_screens_and_words import audit
from tests.factories import PASSWORD
from xero_connect.models import Role

pytestmark = pytest.mark.browser


def test_admin_makes_a_key_and_an_endpoint_member_reads(live_server, page, sign_in, shoot, transactional_db):
    org = factories.make_organisation("Kōwhai Coffee Roasters", slug="kowhai")
    alice = factories.make_user("alice", first_name="Alice", last_name="Admin")
    factories.add_member(org, alice, Role.ADMIN)
    mark = factories.make_user("mark", first_name="Mark", last_name="Member")
    factories.add_member(org, mark, Role.MEMBER)
    found: dict[str, list[str]] = {}

    sign_in(page, "alice", PASSWORD)
    page.goto(f"{live_server.url}/o/kowhai/api-keys/")
    audit(page, "API keys, none yet", found)
    page.fill("#id_name", "Inventory system")
    page.get_by_role("button", name="Create key").click()
    key = page.locator("#new-key code").first.inner_text()
    assert re.fullmatch(r"\w{8}\.\w+", key)
    expect(page.locator("#api-keys")).to_contain_text("Inventory system")
    audit(page, "API keys, a key shown once", found)
    shoot(page, "api-keys")
    page.reload()  # after POST-redirect-GET a reload is a GET: no second key, and the key is not shown again
    expect(page.locator("#new-key")).to_have_count(0)
    expect(page.locator("#api-keys tbody tr")).to_have_count(1)

    page.goto(f"{live_server.url}/o/kowhai/webhooks/")
    page.fill("#id_url", "http://127.0.0.1:9/hooks")
    page.get_by_label("A document failed to export").check()
    page.get_by_role("button", name="Add endpoint").click()
    expect(page.locator("#new-secret")).to_contain_text("whsec_")
    expect(page.locator("#webhook-endpoints")).to_contain_text("document.failed")
    audit(page, "webhooks, an endpoint added", found)
    shoot(page, "webhooks")
    page.reload()
    expect(page.locator("#new-secret")).to_have_count(0)

    page.context.clear_cookies()
    sign_in(page, "mark", PASSWORD)
    page.goto(f"{live_server.url}/o/kowhai/api-keys/")
    expect(page.locator("#api-keys")).to_contain_text("Inventory system")
    expect(page.get_by_role("button", name="Create key")).to_have_count(0)
    expect(page.get_by_text("Ask Alice Admin")).to_be_visible()
    audit(page, "API keys as a Member", found)
    page.goto(f"{live_server.url}/o/kowhai/webhooks/")
    expect(page.get_by_role("button", name="Delete")).to_have_count(0)
    audit(page, "webhooks as a Member", found)
    assert found == {}
