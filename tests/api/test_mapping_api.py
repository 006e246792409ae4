"""Account mapping through the API (#15 item 8): categories with their state, counts and
suggestions; the filtered choices; set or confirm a mapping (the same service as the mapping
page, refusals as problem details with field errors); categories declared up front; and the
outcome a host cares about — documents waiting "Needs mapping" go out once mapped by the API."""
from tests.fakes import records
# The mapping tests' chart and documents, and their fixtures: `connection` (connected, with a
# small chart) and `xero` (the FakeXero of the export tests, in place of the sandbox).
from tests.services.test_mapping import connection, sale, xero  # noqa: F401
from xero_connect.models import Account, CategoryMapping, ExportState, HostCategory
from xero_connect.services import mapping

Kind = HostCategory.Kind
BASE = "/api/v1/organisations/acme"


def account_id(org, code):
    return Account.objects.get(organisation=org, code=code).xero_id


def category(org, kind, code):
    return HostCategory.objects.get(organisation=org, kind=kind, code=code)


def put(api, cat, **body):
    return api.put(f"{BASE}/categories/{cat.pk}/mapping/", body, format="json")


def test_categories_list_their_state_counts_and_suggestions_unmapped_first(api, org, connection):
    sale(org, "INV-1")
    sale(org, "INV-2")
    sale(org, "INV-3", category="MISC-THING", dimension="NOWHERE")
    mapping.mapping_suggest(organisation=org)  # as the next list refresh (or a CSV import) does
    response = api.get(f"{BASE}/categories/")
    assert response.status_code == 200
    body = response.json()
    assert body["connected"] is True
    rows = {(r["kind"], r["code"]): r for r in body["results"]}
    coffee = rows[("sales", "COFFEE-WHOLESALE")]
    assert coffee["documents"] == 2 and coffee["state"] == "suggested" and coffee["state_words"] == "Suggested"
    # Suggested (by type: "Sales" 200; the archived "Coffee Sales" 205 is never suggested), not confirmed.
    assert coffee["mapping"]["account"]["code"] == "200" and coffee["mapping"]["is_suggestion"] is True
    assert rows[("dimension", "NOWHERE")]["state"] == "unmapped" and rows[("dimension", "NOWHERE")]["mapping"] is None
    assert body["results"][0]["state"] == "unmapped"  # the ones needing a person first
    only = api.get(f"{BASE}/categories/", {"state": "unmapped"}).json()["results"]
    assert [(r["kind"], r["code"]) for r in only] == [("dimension", "NOWHERE")]
    assert api.get(f"{BASE}/categories/", {"state": "nonsense"}).status_code == 400


def test_choices_offer_only_active_accounts_of_the_right_class_and_fitting_tax_rates(api, org, connection):
    sale(org, "INV-1", tax_code="GST-IN", dimension="NORTH")
    sales = api.get(f"{BASE}/categories/{category(org, Kind.SALES, 'COFFEE-WHOLESALE').pk}/").json()
    assert {a["code"] for a in sales["choices"]["accounts"]} == {"200", "260"}  # not 205 (archived), not 310
    assert [t["tax_type"] for t in sales["choices"]["tax_rates"]] == ["OUTPUT2"]
    assert sales["choices"]["tracking_options"] == []
    dimension = api.get(f"{BASE}/categories/{category(org, Kind.DIMENSION, 'NORTH').pk}/").json()
    assert [o["name"] for o in dimension["choices"]["tracking_options"]] == ["North"]
    assert dimension["choices"]["accounts"] == []
    tax = api.get(f"{BASE}/categories/{category(org, Kind.TAX_CODE, 'GST-IN').pk}/").json()
    assert {t["tax_type"] for t in tax["choices"]["tax_rates"]} == {"OUTPUT2", "INPUT2"}


def test_refused_choices_answer_problem_details_with_field_errors_and_change_nothing(api, org, connection):
    sale(org, "INV-1")
    cat = category(org, Kind.SALES, "COFFEE-WHOLESALE")
    cases = [
        ({"account_id": account_id(org, "205")}, "account_id", "archived"),       # archived in Xero
        ({"account_id": account_id(org, "310")}, "account_id", "does not fit"),   # an expense account
        ({"account_id": "no-such-account"}, "account_id", "Not in the lists"),
        ({"account_id": account_id(org, "200"), "tax_type": "INPUT2"}, "tax_type", "cannot be used"),
        ({"tracking_option_id": "x"}, "tracking_option_id", "is not mapped to this"),
        ({}, "account_id", "Choose the Xero account"),
    ]
    for body, field, words in cases:
        response = put(api, cat, **body)
        assert response.status_code == 400, body
        assert response["Content-Type"] == "application/problem+json"
        [error] = response.json()["errors"]
        assert error["field"] == field and words in error["message"], (body, error)
    # Still only the suggestion: nothing was confirmed.
    assert not CategoryMapping.objects.filter(category=cat, is_suggestion=False).exists()


def test_before_xero_is_connected_a_mapping_is_refused_clearly(api, org):
    cat = HostCategory.objects.create(organisation=org, kind=Kind.SALES, code="X", name="X")
    response = put(api, cat, account_id="anything")
    assert response.status_code == 400 and "Connect Xero first" in response.json()["errors"][0]["message"]
    assert api.get(f"{BASE}/categories/").json()["connected"] is False


def test_a_category_mapped_by_the_api_makes_its_needs_mapping_items_go_out_once(
        api, org, org_key, admin_user, connection, xero, django_capture_on_commit_callbacks):
    from xero_connect.services import exports

    sale(org, "INV-1", dimension="NORTH")
    sale(org, "INV-2")
    with django_capture_on_commit_callbacks(execute=True):
        exports.exports_enqueue(records=records(org), actor=admin_user)
    assert records(org).filter(state=ExportState.NEEDS_MAPPING).count() == 2 and xero.calls == []

    with django_capture_on_commit_callbacks(execute=True):
        mapped = put(api, category(org, Kind.SALES, "COFFEE-WHOLESALE"), account_id=account_id(org, "260"))
    assert mapped.status_code == 200
    body = mapped.json()
    assert body["state"] == "mapped" and body["mapping"]["account"]["code"] == "260"
    assert body["mapping"]["confirmed_by"] == org_key[0].name  # the key's name is the actor
    assert records(org).get(document__number="INV-2").state == ExportState.EXPORTED
    assert records(org).get(document__number="INV-1").state == ExportState.NEEDS_MAPPING  # NORTH still unmapped

    north = api.get(f"{BASE}/categories/{category(org, Kind.DIMENSION, 'NORTH').pk}/").json()
    option_id = north["choices"]["tracking_options"][0]["xero_id"]
    with django_capture_on_commit_callbacks(execute=True):
        assert put(api, category(org, Kind.DIMENSION, "NORTH"), tracking_option_id=option_id).status_code == 200
    assert records(org).filter(state=ExportState.EXPORTED).count() == 2
    sent = xero.created()
    assert sorted(el["InvoiceNumber"] for el in sent) == ["INV-1", "INV-2"]  # each once
    assert {el["LineItems"][0]["AccountCode"] for el in sent} == {"260"}
    assert next(el for el in sent if el["InvoiceNumber"] == "INV-1")["LineItems"][0]["Tracking"] == [
        {"Name": "Region", "Option": "North"}]


def test_confirming_suggestions_at_once_maps_them(api, org, connection):
    sale(org, "INV-1")
    mapping.mapping_suggest(organisation=org)
    response = api.post(f"{BASE}/categories/accept-suggestions/")
    assert response.status_code == 200 and response.json() == {"confirmed": 1}
    [row] = api.get(f"{BASE}/categories/").json()["results"]
    assert row["state"] == "mapped" and row["mapping"]["is_suggestion"] is False
    assert api.post(f"{BASE}/categories/accept-suggestions/").json() == {"confirmed": 0}


def test_categories_declared_up_front_get_suggestions_and_a_second_time_change_nothing(api, org, connection):
    body = {"categories": [{"kind": "purchase", "code": "FREIGHT-IN", "name": "Freight in"},
                           {"kind": "payment_method", "code": "EFTPOS"}]}
    response = api.post(f"{BASE}/categories/", body, format="json")
    assert response.status_code == 200 and response.json() == {"created": 2, "renamed": 0, "unchanged": 0}
    rows = {r["code"]: r for r in api.get(f"{BASE}/categories/").json()["results"]}
    assert rows["FREIGHT-IN"]["name"] == "Freight in" and rows["FREIGHT-IN"]["documents"] == 0
    assert rows["FREIGHT-IN"]["mapping"]["account"]["code"] == "425"  # by name: Freight & Courier
    assert rows["EFTPOS"]["mapping"]["account"]["code"] == "090"      # the bank account
    again = api.post(f"{BASE}/categories/", body, format="json").json()
    assert again == {"created": 0, "renamed": 0, "unchanged": 2}
    renamed = api.post(f"{BASE}/categories/", {"categories": [{"kind": "purchase", "code": "FREIGHT-IN",
                                                               "name": "Freight inwards"}]}, format="json")
    assert renamed.json() == {"created": 0, "renamed": 1, "unchanged": 0}
    assert HostCategory.objects.filter(organisation=org).count() == 2


def test_a_bad_declaration_is_refused_whole_with_field_errors(api, org):
    response = api.post(f"{BASE}/categories/", {"categories": [
        {"kind": "sales", "code": "A"}, {"kind": "sales", "code": "A"}, {"kind": "colour", "code": "B"}]},
        format="json")
    assert response.status_code == 400
    fields = {e["field"] for e in response.json()["errors"]}
    assert "categories[2].kind" in fields
    assert api.post(f"{BASE}/categories/", {"categories": [{"kind": "sales", "code": "A"},
                                                            {"kind": "sales", "code": "A"}]},
                    format="json").json()["errors"] == [{"field": "categories[1].code",
                                                          "message": "Declared twice in this request."}]
    assert not HostCategory.objects.filter(organisation=org).exists()


def test_a_platform_key_maps_too_and_another_organisations_category_is_404(platform_api, other_api, org,
                                                                           connection):
    sale(org, "INV-1")
    cat = category(org, Kind.SALES, "COFFEE-WHOLESALE")
    assert put(platform_api, cat, account_id=account_id(org, "200")).status_code == 200
    assert other_api.get(f"/api/v1/organisations/other/categories/{cat.pk}/").status_code == 404


def test_documents_sent_by_api_with_host_categories_wait_then_go_out_once_mapped(
        api, org, admin_user, connection, xero, django_capture_on_commit_callbacks):
    from xero_connect.services import exports

    doc = {"type": "sales_invoice", "number": "INV-9", "date": "2026-11-02", "due_date": "2026-11-30",
           "contact": "Ridgeway", "lines": [{"description": "Beans", "quantity": "2", "unit_amount": "10.50",
                                             "category": "COFFEE-RETAIL", "dimension": "NORTH"}]}
    payment = {"type": "payment", "number": "PAY-9", "date": "2026-11-03", "paid_number": "INV-9",
               "paid_type": "sales_invoice", "amount": "21.00", "payment_method": "EFTPOS"}
    first = api.post(f"{BASE}/documents/", {"documents": [doc, payment]}, format="json").json()
    assert first["counts"]["created"] == 2, first
    again = api.post(f"{BASE}/documents/", {"documents": [doc, payment]}, format="json").json()
    assert again["counts"]["unchanged"] == 2  # the categories are part of what is compared
    rows = {r["code"]: r for r in api.get(f"{BASE}/categories/").json()["results"]}
    assert {c: rows[c]["documents"] for c in ("COFFEE-RETAIL", "NORTH", "EFTPOS")} == {
        "COFFEE-RETAIL": 1, "NORTH": 1, "EFTPOS": 1}
    assert rows["COFFEE-RETAIL"]["state"] == "suggested"  # suggested on arrival, not used until confirmed

    with django_capture_on_commit_callbacks(execute=True):
        exports.exports_enqueue(records=records(org).filter(document__number="INV-9"), actor=admin_user)
    assert records(org).get(document__number="INV-9").state == ExportState.NEEDS_MAPPING and xero.calls == []
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post(f"{BASE}/categories/accept-suggestions/").json() == {"confirmed": 3}
    assert records(org).get(document__number="INV-9").state == ExportState.EXPORTED
    [sent] = xero.created()
    assert sent["LineItems"][0]["AccountCode"] == "200"
    assert sent["LineItems"][0]["Tracking"] == [{"Name": "Region", "Option": "North"}]


def test_the_unpaged_categories_list_refuses_paging_parameters_by_name(api):
    for params in ({"cursor": "garbage"}, {"page_size": "abc"}, {"page_size": "10"}):
        response = api.get(f"{BASE}/categories/", params)
        assert response.status_code == 400 and set(params) <= {e["field"] for e in response.json()["errors"]}, response.json()
