import os
import shutil
from pathlib import Path

import pytest
import responses

from xero_connect.models import Role

from . import factories


@pytest.fixture
def rsps():
    """Xero at the HTTP seam (`responses`); the shared fakes that fill it are in tests/fakes.py."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as r:
        yield r


@pytest.fixture
def org(db):
    return factories.make_organisation("Acme Widgets", slug="acme")


@pytest.fixture
def other_org(db):
    return factories.make_organisation("Other Co", slug="other")


@pytest.fixture
def admin_user(org):
    user = factories.make_user("alice", first_name="Alice", last_name="Admin")
    factories.add_member(org, user, Role.ADMIN)
    return user


@pytest.fixture
def member_user(org):
    user = factories.make_user("mark", first_name="Mark", last_name="Member")
    factories.add_member(org, user, Role.MEMBER)
    return user


@pytest.fixture
def outsider(other_org):
    user = factories.make_user("olga", first_name="Olga", last_name="Outsider")
    factories.add_member(other_org, user, Role.ADMIN)
    return user


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def member_client(client, member_user):
    client.force_login(member_user)
    return client


# --- Browser fixtures: Playwright drives Debian's chromium (never a downloaded browser) against
# pytest-django's live_server; one Playwright per test session, shared by every browser test.

# Playwright's sync API runs an event loop in this thread; the ORM calls our tests make from
# here are ordinary synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (scripts/test installs it as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    pg = context.new_page()
    yield pg
    context.close()


@pytest.fixture
def shoot():
    """Save a full-page screenshot as a test artefact."""
    ARTIFACTS.mkdir(exist_ok=True)

    def _shoot(page, name):
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    return _shoot


@pytest.fixture
def sign_in(live_server):
    def _sign_in(page, username, password):
        page.goto(f"{live_server.url}/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("button[type=submit]")
        page.wait_for_load_state()

    return _sign_in


@pytest.fixture
def xero(live_server, settings):
    """The sandbox is Xero for this test: every Xero URL points at it on live_server."""
    from xero_sandbox import services as sandbox

    from .xero_live import point_at_sandbox

    point_at_sandbox(settings, live_server.url)
    sandbox.sandbox_reset()
    yield sandbox
    sandbox.clear_faults()


from .workers import async_queue, worker  # noqa: E402,F401  (real django-q2 workers for tests)


# --- Every request the client sends is checked against Xero's OpenAPI files (tests/contract/guard.py).
@pytest.fixture(scope="session", autouse=True)
def _xero_contract_hook():
    from .contract import guard
    with pytest.MonkeyPatch.context() as patch:
        guard.install(patch)
        yield


@pytest.fixture(autouse=True)
def _xero_contract(_xero_contract_hook):
    from .contract import guard
    guard.take()
    yield
    found = guard.take()
    assert not found, "requests the client sent that Xero's OpenAPI file refuses:\n" + "\n".join(found)
