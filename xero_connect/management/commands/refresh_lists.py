"""Refresh lists from Xero for one organisation or all, here and now (not via the queue)."""
from django.core.management.base import BaseCommand, CommandError

from xero_connect.management.organisations import add_org_arguments, chosen_organisations
from xero_connect.models import ListRefresh
from xero_connect.services.lists import lists_refresh_now, ordered_lists


class Command(BaseCommand):
    help = "Refresh lists (accounts, contacts, tax rates, tracking categories, currencies) from Xero."

    def add_arguments(self, parser):
        add_org_arguments(parser)
        parser.add_argument("--lists", default="", help="Comma-separated lists (default all): "
                                                        "accounts,contacts,tax_rates,tracking,currencies")

    def handle(self, *args, org=None, all=False, lists="", **options):
        try:
            names = ordered_lists([n.strip() for n in lists.split(",") if n.strip()] or None)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        organisations = chosen_organisations(org)
        failures = 0
        for organisation in organisations:
            refresh = lists_refresh_now(organisation=organisation, trigger=ListRefresh.Trigger.COMMAND, lists=names)
            self.stdout.write(f"{organisation.slug}: {refresh.get_status_display()} — {summary_line(refresh)}")
            failures += refresh.status != ListRefresh.Status.DONE
        if failures:
            self.stderr.write(f"{failures} of {len(organisations)} organisation(s) did not refresh fully.")


def summary_line(refresh: ListRefresh) -> str:
    results = refresh.results or {}
    failure = results.get("_failure")
    parts = []
    for name in refresh.lists:
        r = results.get(name)
        if not r:
            continue
        if r.get("error"):
            parts.append(f"{name} failed: {r.get('error_title') or r['error']}")
        else:
            text = f"{name} +{r['added']} ~{r['updated']} -{r['archived']} ={r['unchanged']} ({r['calls']} calls)"
            if r.get("skipped"):
                text += " skipped " + ", ".join(s["code"] for s in r["skipped"])
            parts.append(text)
    if failure:
        parts.append(f"{failure['title']}: {failure['next_step']}")
    return "; ".join(parts) or "nothing to do"
