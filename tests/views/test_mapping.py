"""The Account mapping page (#15): Admins edit, Members read, what is offered fits."""
from tests import factories
from tests.services.test_mapping import chart, sale
from xero_connect import roles
from xero_connect.models import Account, CategoryMapping, HostCategory


def test_admin_sees_categories_unmapped_first_with_only_fitting_accounts_and_maps_one(admin_client, org, admin_user):
    connection = factories.make_connection(org, actor=admin_user)
    chart(org, connection.tenant_id)
    sale(org, "INV-1")
    sale(org, "INV-2", category="FREIGHT-OUT")
    HostCategory.objects.create(organisation=org, kind=HostCategory.Kind.PURCHASE, code="UNUSED")
    cat = HostCategory.objects.get(code="COFFEE-WHOLESALE")
    CategoryMapping.objects.create(organisation=org, tenant_id=connection.tenant_id, category=cat,
                                   account=Account.objects.get(organisation=org, code="200"))
    page = admin_client.get(f"/o/{org.slug}/mapping/").content.decode()
    assert page.index("FREIGHT-OUT") < page.index("COFFEE-WHOLESALE")  # unmapped first
    freight = page[page.index('id="account-' + str(HostCategory.objects.get(code="FREIGHT-OUT").pk)):]
    freight = freight[:freight.index("</select>")]
    assert "200 Sales" in freight and "260 Other Revenue" in freight
    assert "Coffee Sales" not in freight and "310" not in freight and "Business Bank" not in freight

    response = admin_client.post(f"/o/{org.slug}/mapping/{HostCategory.objects.get(code='FREIGHT-OUT').pk}/",
                                 {"account": Account.objects.get(organisation=org, code="260").pk})
    assert response.status_code == 302
    assert CategoryMapping.objects.get(category__code="FREIGHT-OUT").account.code == "260"
    # An archived account or garbage is refused with a notice, never a 500.
    for bad in (Account.objects.get(organisation=org, code="205").pk, "abc", "99999999"):
        response = admin_client.post(f"/o/{org.slug}/mapping/{cat.pk}/", {"account": bad}, follow=True)
        assert response.status_code == 200
    assert CategoryMapping.objects.get(category=cat).account.code == "200"


def test_a_member_reads_the_page_without_forms(member_client, org, admin_user):
    connection = factories.make_connection(org, actor=admin_user)
    chart(org, connection.tenant_id)
    sale(org, "INV-1")
    page = member_client.get(f"/o/{org.slug}/mapping/").content.decode()
    assert "COFFEE-WHOLESALE" in page and "<select" not in page and "Only an Admin" in page
    assert f"Ask {roles.display_name(admin_user)}" in page  # whom to ask, as every other page says
    assert member_client.post(f"/o/{org.slug}/mapping/suggestions/").status_code == 403


def test_create_account_refuses_a_type_that_does_not_fit_with_a_notice_and_no_call(admin_client, org, admin_user):
    connection = factories.make_connection(org, actor=admin_user)
    chart(org, connection.tenant_id)
    sale(org, "INV-1")
    cat = HostCategory.objects.get(code="COFFEE-WHOLESALE")
    for data in ({"code": "215", "name": "Wholesale", "type": "EXPENSE"},
                 {"code": "200", "name": "Wholesale", "type": "REVENUE"},          # the chart has 200
                 {"code": "12345678901", "name": "Wholesale", "type": "REVENUE"},  # Xero: at most 10
                 {"code": "", "name": "", "type": ""}):
        response = admin_client.post(f"/o/{org.slug}/mapping/{cat.pk}/create-account/", data, follow=True)
        assert response.status_code == 200
        assert "COFFEE-WHOLESALE:" in response.content.decode()
    assert not CategoryMapping.objects.filter(category=cat).exclude(is_suggestion=True).exists()


def test_export_data_says_how_many_need_mapping_and_whom_to_ask(client, org, admin_user, member_user):
    from xero_connect.models import ExportRecord, ExportState

    sale(org, "INV-1")
    ExportRecord.objects.update(state=ExportState.NEEDS_MAPPING, last_error="Needs mapping: sales category X")
    client.force_login(admin_user)
    admin_page = client.get(f"/o/{org.slug}/exports/").content.decode()
    assert "1 item waiting as “Needs mapping”" in admin_page and "Map the categories" in admin_page
    client.force_login(member_user)
    member_page = client.get(f"/o/{org.slug}/exports/").content.decode()
    assert "Ask Alice Admin (an Admin) to map the categories" in member_page


def test_right_after_finish_the_page_says_the_accounts_are_still_being_imported(admin_client, org, admin_user):
    connection = factories.make_connection(org, actor=admin_user)
    sale(org, "INV-1")
    page = admin_client.get(f"/o/{org.slug}/mapping/").content.decode()
    assert "still being imported" in page  # empty choices explained, not a page that looks broken
    chart(org, connection.tenant_id)
    assert "still being imported" not in admin_client.get(f"/o/{org.slug}/mapping/").content.decode()
