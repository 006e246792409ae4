"""A portal bulk job's page, in Debian's chromium against live_server: the progress bar and the
per-organisation rows move by themselves (bounded polling of the JSON progress endpoint) while
the job runs (the worker's steps are played by the test, organisation by organisation)."""

import pytest

from tests import factories
from tests.factories import PASSWORD
from xero_connect.models import BulkJob, Role

pytestmark = pytest.mark.browser


def test_bulk_job_progress_moves_on_the_page(live_server, page, sign_in, transactional_db, monkeypatch):
    from playwright.sync_api import expect

    from xero_connect.services import portal as svc

    bea = factories.make_user("bea", first_name="Bea", last_name="Bookkeeper")
    orgs = [factories.make_organisation(f"Client {n}", slug=f"client-{n}") for n in range(3)]
    for org in orgs:
        factories.add_member(org, bea, Role.ADMIN)
    monkeypatch.setattr(svc, "_enqueue", lambda job: None)  # the test plays the worker
    job = svc.portal_bulk_start(actor=bea, organisation_ids=[o.pk for o in orgs], kind=BulkJob.Kind.HEALTH_CHECK)

    sign_in(page, "bea", PASSWORD)
    page.goto(f"{live_server.url}/portal/jobs/{job.pk}/")
    bar = page.locator("#job-bar")
    expect(bar).to_have_attribute("aria-valuenow", "0")

    # The worker finishes the first organisation.
    job.results[0].update(outcome="done", detail="Xero answers.")
    job.done = 1
    job.status = BulkJob.Status.RUNNING
    job.save()
    expect(bar).to_have_attribute("aria-valuenow", "33")
    expect(page.locator('#job-results tr[data-index="0"] .detail')).to_contain_text("Xero answers.")
    expect(page.locator('#job-results tr[data-index="1"] .outcome')).to_have_text("Waiting")

    # Then the rest, through the real runner (health check stubbed: no Xero here).
    monkeypatch.setattr(svc, "RUNNERS", {**svc.RUNNERS, BulkJob.Kind.HEALTH_CHECK:
                                         lambda job, o: ("problem", f"{o.name} needs a reconnect.", "")})
    svc.portal_bulk_run(job_id=job.pk)
    expect(bar).to_have_attribute("aria-valuenow", "100")
    expect(page.locator("#job-status")).to_have_text("Done")
    expect(page.locator('#job-results tr[data-index="2"] .outcome')).to_have_text("Needs attention")
    expect(page.locator('#job-results tr[data-index="2"] .detail')).to_contain_text("Client 2 needs a reconnect.")
