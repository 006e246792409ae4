"""Every example response in Xero's OpenAPI files, for each resource the client reads, goes
through the client's own parsing code: the HTTP seam (xero_connect.xero) and, for lists, the
whole lists refresh into the database. Xero's examples are what Xero says it answers; the
client must read each of them without an error (and a 400 example as Xero's validation error)."""
import json
from decimal import Decimal
from functools import lru_cache

import pytest
import responses
from django.conf import settings

from tests import factories
from xero_connect.models import Account, Contact, Currency, ListName, ListRefresh, TaxRate, TrackingCategory
from xero_connect.services import lists
from xero_connect.xero import errors, oauth
from xero_connect.xero.accounting import AccountingApi, parse_xero_date

from .guard import OPENAPI_DIR

LISTS = {"Accounts": (ListName.ACCOUNTS, Account, "AccountID"), "Contacts": (ListName.CONTACTS, Contact, "ContactID"),
         "TaxRates": (ListName.TAX_RATES, TaxRate, "TaxType"),
         "TrackingCategories": (ListName.TRACKING, TrackingCategory, "TrackingCategoryID"),
         "Currencies": (ListName.CURRENCIES, Currency, "Code")}
DOCUMENTS = {"Invoices": "InvoiceID", "CreditNotes": "CreditNoteID", "Payments": "PaymentID",
             "ManualJournals": "ManualJournalID"}
# A smallest element the file accepts for each write (the guard checks what the client sends).
MINIMAL = {"Invoices": {"Type": "ACCREC"}, "CreditNotes": {"Type": "ACCRECCREDIT"}, "Payments": {"Amount": 1.0},
           "ManualJournals": {"Narration": "x"}, "Contacts": {"Name": "x"}, "Accounts": {"Code": "x"}}
READ = ["Organisation", *LISTS, *DOCUMENTS]


def load_yaml(name):
    """A file of OpenAPI dir as JSON would hold it (timestamps stay strings, as Xero sends them)."""
    import yaml

    class Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
        pass

    Loader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in Loader.yaml_implicit_resolvers.items()}
    with open(OPENAPI_DIR / name, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=Loader)


@lru_cache(maxsize=1)
def examples() -> list[tuple[str, str, str, str, object]]:
    """(resource, method, path, status, example body) for every response example under a path
    of a resource the client reads (list and item paths), in file order."""
    spec = load_yaml("xero_accounting.yaml")
    found = []
    for path, operations in spec["paths"].items():
        resource = path.split("/")[1]
        if resource not in READ:
            continue
        for method, operation in operations.items():
            if not isinstance(operation, dict):
                continue
            for status, answer in (operation.get("responses") or {}).items():
                content = (answer.get("content") or {}).get("application/json") or {}
                bodies = ([content["example"]] if "example" in content else []) + \
                    [e.get("value") for e in (content.get("examples") or {}).values()]
                for body in bodies:
                    body = json.loads(body) if isinstance(body, str) else body
                    if isinstance(body, dict) and (resource in body or status != "200" or resource == "Organisation"):
                        found.append((resource, method, path, status, body))
    return found


def test_the_file_holds_examples_for_every_resource_the_client_reads():
    covered = {resource for resource, *_ in examples()}
    assert covered == set(READ)
    assert len(examples()) >= 40


def api_url(resource):
    return f"{settings.XERO_API_URL.rstrip('/')}/{resource}"


@pytest.fixture
def connection(org, admin_user):
    return factories.make_connection(org, actor=admin_user, tenant_id="7cb59f93-2964-421d-bb5e-a0f7a4572a44")


def api_for_test():
    return AccountingApi(tenant_id="7cb59f93-2964-421d-bb5e-a0f7a4572a44", token_provider=lambda stale: "token")


@pytest.mark.parametrize("case", [c for c in examples() if c[0] in LISTS and c[3] == "200"],
                         ids=lambda c: f"{c[1].upper()} {c[2]} {c[3]}")
@responses.activate
def test_list_examples_go_through_the_lists_refresh(org, connection, case):
    resource, _method, _path, _status, body = case
    list_name, model, key = LISTS[resource]
    if resource == "Currencies":
        from xero_connect.models import ExchangeRate
        for row in body[resource]:
            ExchangeRate.objects.get_or_create(organisation=org, currency_code=row["Code"], defaults={"rate": 1})
    responses.get(api_url(resource), json=body)
    refresh = lists.lists_refresh_now(organisation=org, trigger=ListRefresh.Trigger.MANUAL, lists=[list_name])
    refresh.refresh_from_db()
    result = refresh.results[list_name]
    assert not result.get("error"), result
    with_keys = {str(row[key]) for row in body[resource] if row.get(key)}
    assert model.objects.filter(organisation=org).count() >= min(1, len(with_keys))


@pytest.mark.parametrize("case", [c for c in examples() if c[0] in DOCUMENTS and c[3] == "200"],
                         ids=lambda c: f"{c[1].upper()} {c[2]} {c[3]}")
@responses.activate
def test_document_examples_are_read_by_the_seam(case):
    resource, method, path, _status, body = case
    items = body[resource]
    responses.get(api_url(resource), json=body)
    responses.put(api_url(resource), json=body)
    api = api_for_test()
    found = api.find(resource, where='Status=="AUTHORISED"')
    saved = api.save_batch(resource, [MINIMAL[resource] for _ in items], idempotency_key="k")
    assert len(found) == len(saved) == len(items)
    for element in found:
        for name in ("Date", "DueDate", "UpdatedDateUTC"):
            if element.get(name):
                assert parse_xero_date(element[name]) is not None, (name, element[name])
        for name in ("Total", "SubTotal", "TotalTax", "Amount"):
            if element.get(name) is not None:
                assert Decimal(str(element[name])).is_finite()
        assert element.get(DOCUMENTS[resource]) or element.get("StatusAttributeString") or element.get("Status")


@pytest.mark.parametrize("case", [c for c in examples() if c[3] == "400"], ids=lambda c: f"{c[1].upper()} {c[2]}")
@responses.activate
def test_validation_error_examples_become_xeros_messages(case):
    resource, _method, _path, _status, body = case
    responses.put(api_url(resource), json=body, status=400)
    with pytest.raises(errors.ValidationFailed) as failed:
        api_for_test().save_batch(resource, [MINIMAL[resource]], idempotency_key="k")
    assert failed.value.messages and all(isinstance(m, str) and m for m in failed.value.messages)


@responses.activate
def test_organisation_example_is_read():
    body = next(c[4] for c in examples() if c[0] == "Organisation" and c[3] == "200")
    responses.get(api_url("Organisation"), json=body)
    organisation = api_for_test().organisation()
    assert organisation["Name"] and organisation["ShortCode"]


@responses.activate
def test_connections_example_of_the_identity_file_is_read():
    spec = load_yaml("xero-identity.yaml")
    example = spec["paths"]["/Connections"]["get"]["responses"]["200"]["content"]["application/json"]["example"]
    responses.get(settings.XERO_CONNECTIONS_URL, json=json.loads(example))
    found = oauth.list_connections(access_token="token")
    assert found[0]["tenantId"] == "fe79f7dd-b6d4-4a92-ba7b-538af6289c58"
