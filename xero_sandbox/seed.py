"""Demo data: four small businesses in four currencies, their Xero users and the app.

`seed_sandbox()` is idempotent: it creates what is missing and leaves what exists (the
registered app is re-synchronised with the current settings).
"""
import datetime
import hashlib
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from .formats import contact_name_key
from .models import (Account, Contact, Currency, SandboxApp, SandboxOrganisation, SandboxUser, TaxRate,
                     TrackingCategory, TrackingOption)

DEMO_PASSWORD = "xero-demo"  # demo only; printed in docs/sandbox.md

CURRENCY_NAMES = {
    "NZD": "New Zealand Dollar", "AUD": "Australian Dollar", "USD": "United States Dollar", "GBP": "British Pound",
    "EUR": "Euro", "FJD": "Fiji Dollar", "SGD": "Singapore Dollar", "PGK": "Papua New Guinean Kina",
    "ISK": "Iceland Krona", "CAD": "Canadian Dollar", "MXN": "Mexican Peso", "JPY": "Japanese Yen",
}

# (code, name, type, class, tax key, extra)
CHART = [
    ("090", "Business Bank Account", "BANK", "ASSET", "none", {"enable_payments": True}),
    ("091", "Business Savings Account", "BANK", "ASSET", "none", {}),
    ("200", "Sales", "REVENUE", "REVENUE", "out", {}),
    ("260", "Other Revenue", "REVENUE", "REVENUE", "out", {}),
    ("270", "Interest Income", "OTHERINCOME", "REVENUE", "none", {}),
    ("310", "Cost of Goods Sold", "DIRECTCOSTS", "EXPENSE", "in", {}),
    ("400", "Advertising", "OVERHEADS", "EXPENSE", "in", {}),
    ("404", "Bank Fees", "OVERHEADS", "EXPENSE", "none", {}),
    ("408", "Cleaning", "OVERHEADS", "EXPENSE", "in", {}),
    ("412", "Consulting & Accounting", "OVERHEADS", "EXPENSE", "in", {}),
    ("420", "Entertainment", "OVERHEADS", "EXPENSE", "none", {}),
    ("425", "Freight & Courier", "OVERHEADS", "EXPENSE", "in", {}),
    ("429", "General Expenses", "OVERHEADS", "EXPENSE", "in", {}),
    ("433", "Insurance", "OVERHEADS", "EXPENSE", "in", {}),
    ("445", "Light, Power, Heating", "OVERHEADS", "EXPENSE", "in", {}),
    ("449", "Motor Vehicle Expenses", "OVERHEADS", "EXPENSE", "in", {}),
    ("455", "Old Marketing Costs", "OVERHEADS", "EXPENSE", "in", {"status": "ARCHIVED"}),
    ("461", "Printing & Stationery", "OVERHEADS", "EXPENSE", "in", {}),
    ("469", "Rent", "OVERHEADS", "EXPENSE", "in", {}),
    ("473", "Repairs and Maintenance", "OVERHEADS", "EXPENSE", "in", {}),
    ("485", "Subscriptions", "OVERHEADS", "EXPENSE", "in", {}),
    ("489", "Telephone & Internet", "OVERHEADS", "EXPENSE", "in", {}),
    ("493", "Travel - National", "OVERHEADS", "EXPENSE", "in", {}),
    ("494", "Travel - International", "OVERHEADS", "EXPENSE", "none", {}),
    ("610", "Accounts Receivable", "CURRENT", "ASSET", "none", {"system_account": "DEBTORS"}),
    ("620", "Prepayments", "CURRENT", "ASSET", "none", {}),
    ("630", "Inventory", "INVENTORY", "ASSET", "none", {}),
    ("710", "Office Equipment", "FIXED", "ASSET", "in", {}),
    ("720", "Computer Equipment", "FIXED", "ASSET", "in", {}),
    ("800", "Accounts Payable", "CURRLIAB", "LIABILITY", "none", {"system_account": "CREDITORS"}),
    ("820", "Sales Tax", "CURRLIAB", "LIABILITY", "none", {"system_account": "GST"}),
    ("840", "Historical Adjustment", "CURRLIAB", "LIABILITY", "none", {"system_account": "HISTORICAL"}),
    ("900", "Loan", "TERMLIAB", "LIABILITY", "none", {}),
    ("960", "Retained Earnings", "EQUITY", "EQUITY", "none", {"system_account": "RETAINEDEARNINGS"}),
    ("970", "Owner A Funds Introduced", "EQUITY", "EQUITY", "none", {}),
]

ORGANISATIONS = [
    {
        "name": "Kōwhai Coffee Roasters", "legal_name": "Kōwhai Coffee Roasters Limited", "short_code": "!kWh4R",
        "base_currency": "NZD", "country_code": "NZ", "version": "NZ", "timezone": "NEWZEALANDSTANDARDTIME",
        "line_of_business": "Coffee roasting and wholesale", "financial_year_end_day": 31,
        "financial_year_end_month": 3, "period_lock_date": datetime.date(2025, 3, 31),
        "currencies": ["NZD", "AUD", "USD", "GBP", "FJD"],
        "tax": {"out": "OUTPUT2", "in": "INPUT2", "none": "NONE"}, "sales_tax_name": "GST",
        "tax_rates": [("15% GST on Income", "OUTPUT2", "OUTPUT", "15", True, False),
                      ("15% GST on Expenses", "INPUT2", "INPUT", "15", False, True),
                      ("Zero Rated", "ZERORATED", "OUTPUT", "0", True, False),
                      ("Exempt Income", "EXEMPTOUTPUT", "EXEMPTOUTPUT", "0", True, False),
                      ("Exempt Expenses", "EXEMPTEXPENSES", "EXEMPTEXPENSES", "0", False, True),
                      ("GST on Imports", "GSTONIMPORTS", "GSTONIMPORTS", "0", False, True),
                      ("No GST", "NONE", "NONE", "0", True, True)],
        "regions": ["Auckland", "Wellington", "Canterbury", "Otago"],
        "customers": ["Ponsonby Espresso Bar", "Cuba Street Café", "Harbourside Deli", "Karori Bakehouse",
                      "Mount Eden Organics", "Riccarton Food Co", "Queenstown Alpine Lodge", "Te Aro Kitchen",
                      "Devonport Pantry", "Nelson Market Stall", "Takapuna Beach Café", "Dunedin Roast House",
                      "Hamilton Gardens Kiosk", "Napier Art Deco Café", "Rotorua Lakeside Eatery",
                      "Sydney Bean Traders"],
        "suppliers": ["Pacific Green Bean Importers", "Kiwi Packaging Supplies", "Mainfreight Couriers",
                      "Vector Energy", "Spark Business", "Auckland Office Rentals", "Probat Machinery NZ",
                      "Fiji Kava & Coffee Co", "ACC Levies", "Xero Accounting Partners Ltd",
                      "Bunnings Trade Penrose", "Meridian Insurance Brokers", "Milk Suppliers Cooperative",
                      "Cleanway Services"],
    },
    {
        "name": "Wattle & Gum Outdoor Supplies", "legal_name": "Wattle & Gum Outdoor Supplies Pty Ltd",
        "short_code": "!wG7oS", "base_currency": "AUD", "country_code": "AU", "version": "AU",
        "timezone": "AUSEASTERNSTANDARDTIME", "line_of_business": "Outdoor and camping equipment retail",
        "financial_year_end_day": 30, "financial_year_end_month": 6, "period_lock_date": datetime.date(2025, 6, 30),
        "currencies": ["AUD", "NZD", "USD", "SGD", "PGK"],
        "tax": {"out": "OUTPUT", "in": "INPUT", "none": "BASEXCLUDED"}, "sales_tax_name": "GST",
        "tax_rates": [("GST on Income", "OUTPUT", "OUTPUT", "10", True, False),
                      ("GST on Expenses", "INPUT", "INPUT", "10", False, True),
                      ("GST Free Income", "EXEMPTOUTPUT", "EXEMPTOUTPUT", "0", True, False),
                      ("GST Free Expenses", "EXEMPTEXPENSES", "EXEMPTEXPENSES", "0", False, True),
                      ("GST on Capital", "CAPEXINPUT", "CAPITALEXPENSESINPUT", "10", False, True),
                      ("BAS Excluded", "BASEXCLUDED", "BASEXCLUDED", "0", True, True),
                      ("No GST", "NONE", "NONE", "0", True, True)],
        "regions": ["New South Wales", "Victoria", "Queensland", "Western Australia"],
        "customers": ["Blue Mountains Adventure Tours", "Byron Bay Surf School", "Grampians Scout Group",
                      "Cairns Reef Expeditions", "Margaret River Campground", "Kosciuszko Alpine Club",
                      "Fremantle Kayak Hire", "Daintree Eco Lodge", "Hobart Bushwalking Society",
                      "Noosa Outdoor Education", "Alice Springs Safari Co", "Adelaide Hills Cycling",
                      "Wanaka Trekking Ltd", "Singapore Trail Runners", "Perth Climbing Gym"],
        "suppliers": ["Sea to Summit Wholesale", "Macpac Distribution", "Toll Priority", "AGL Energy",
                      "Telstra Business", "Westfield Leasing", "Australia Post", "Port Moresby Canvas Works",
                      "ATO Payments", "Officeworks", "Origin Insurance", "Lakeside Cleaning Services",
                      "Rip Curl Trade", "Brisbane Storage Co", "Dunlop Signs & Print"],
    },
    {
        "name": "Thistle Lane Bakery", "legal_name": "Thistle Lane Bakery Ltd", "short_code": "!tL2bK",
        "base_currency": "GBP", "country_code": "GB", "version": "UK", "timezone": "GMTSTANDARDTIME",
        "line_of_business": "Artisan bakery and catering", "financial_year_end_day": 31,
        "financial_year_end_month": 3, "period_lock_date": datetime.date(2025, 3, 31),
        "currencies": ["GBP", "EUR", "USD", "ISK"],
        "tax": {"out": "OUTPUT2", "in": "INPUT2", "none": "NONE"}, "sales_tax_name": "VAT",
        "tax_rates": [("20% (VAT on Income)", "OUTPUT2", "OUTPUT", "20", True, False),
                      ("20% (VAT on Expenses)", "INPUT2", "INPUT", "20", False, True),
                      ("5% (VAT on Income)", "RROUTPUT", "OUTPUT", "5", True, False),
                      ("5% (VAT on Expenses)", "RRINPUT", "INPUT", "5", False, True),
                      ("Zero Rated Income", "ZERORATEDOUTPUT", "ZERORATEDOUTPUT", "0", True, False),
                      ("Zero Rated Expenses", "ZERORATEDINPUT", "ZERORATEDINPUT", "0", False, True),
                      ("Exempt Income", "EXEMPTOUTPUT", "EXEMPTOUTPUT", "0", True, False),
                      ("Exempt Expenses", "EXEMPTINPUT", "EXEMPTINPUT", "0", False, True),
                      ("No VAT", "NONE", "NONE", "0", True, True)],
        "regions": ["Edinburgh", "Glasgow", "London", "Manchester"],
        "customers": ["Leith Harbour Café", "Stockbridge Deli", "Morningside Tearoom", "Royal Mile Hotel",
                      "Glasgow Green Events", "Camden Lock Market", "Shoreditch Coffee Lab",
                      "Northern Quarter Kitchen", "Portobello Beach Hut", "St Andrews Golf Club",
                      "Reykjavik Food Hall", "Dublin Street Catering", "Bruntsfield Primary School",
                      "Holyrood Conference Centre", "Dean Village Bistro"],
        "suppliers": ["Mungoswells Flour Mill", "Scottish Power", "BT Business", "DPD Local", "Brakes Foodservice",
                      "HMRC VAT", "Edinburgh Property Lettings", "Rational Ovens UK", "Aviva Business Insurance",
                      "Bidfood Scotland", "Highland Dairy Co", "Pret Packaging Ltd", "City Cleaning Ltd",
                      "Lothian Waste Services", "Sage Accountants LLP"],
    },
    {
        "name": "Harbor Point Bike Co.", "legal_name": "Harbor Point Bike Company LLC", "short_code": "!hP9bC",
        "base_currency": "USD", "country_code": "US", "version": "US", "timezone": "PACIFICSTANDARDTIME",
        "line_of_business": "Bicycle sales, rentals and repairs", "financial_year_end_day": 31,
        "financial_year_end_month": 12, "period_lock_date": datetime.date(2024, 12, 31),
        "currencies": ["USD", "CAD", "EUR", "MXN"],
        "tax": {"out": "TAX001", "in": "NONE", "none": "NONE"}, "sales_tax_name": "Sales Tax",
        "tax_rates": [("CA Sales Tax", "TAX001", "", "8.25", True, False),
                      ("WA Sales Tax", "TAX002", "", "10.1", True, False),
                      ("Tax Exempt", "NONE", "NONE", "0", True, True)],
        "regions": ["Seattle", "Portland", "San Francisco", "San Diego"],
        "customers": ["Pike Place Couriers", "Golden Gate Rentals", "Mission Bay Commuters Club",
                      "Puget Sound Cycling Team", "Rose City Bike Share", "Venice Beach Cruisers",
                      "Ballard Brewing Co", "Sausalito Ferry Tours", "Capitol Hill Delivery",
                      "La Jolla Triathlon Club", "Tijuana Ciclistas", "Bainbridge Island Inn",
                      "Alameda Elementary PTA", "Fremont Film Studio", "Vancouver Island Tours"],
        "suppliers": ["Shimano North America", "Trek Dealer Services", "UPS Freight", "Seattle City Light",
                      "Comcast Business", "Pier 66 Properties", "QBP Distribution", "Continental Tires USA",
                      "State Farm Business", "Staples Business", "Ensenada Frame Works", "Clean Sweep Janitorial",
                      "WA Dept of Revenue", "Gusto Payroll", "Pacific Sign Co"],
    },
]

USERS = [
    {"email": "demo@xero.example", "first_name": "Dana", "last_name": "Demo", "orgs": "all"},
    {"email": "solo@xero.example", "first_name": "Sam", "last_name": "Solo", "orgs": ["!kWh4R"]},
]


def _stable_uuid(*parts):
    """Seeded ids are stable across machines and resets (handy in docs and fixtures)."""
    import uuid
    return uuid.UUID(hashlib.md5("|".join(parts).encode()).hexdigest())


def seed_app():
    app, _ = SandboxApp.objects.update_or_create(
        client_id=settings.XERO_CLIENT_ID,
        defaults={"name": settings.PRODUCT_NAME,  # the articles: "Disconnect next to <product>"
                  "client_secret": settings.XERO_CLIENT_SECRET,
                  "redirect_uris": settings.XERO_REDIRECT_URI},
    )
    return app


@transaction.atomic
def seed_sandbox() -> dict:
    """Create the demo organisations, users and app where missing. Returns a summary."""
    now = timezone.now()
    orgs = {}
    for spec in ORGANISATIONS:
        org, created = SandboxOrganisation.objects.get_or_create(
            short_code=spec["short_code"],
            defaults={"tenant_id": _stable_uuid("tenant", spec["short_code"]),
                      **{k: spec[k] for k in ("name", "legal_name", "base_currency", "country_code", "version",
                                               "timezone", "line_of_business", "financial_year_end_day",
                                               "financial_year_end_month", "period_lock_date")}},
        )
        orgs[spec["short_code"]] = org
        if created or not org.accounts.exists():
            _seed_lists(org, spec, now)
    for spec in USERS:
        user, _ = SandboxUser.objects.get_or_create(
            email=spec["email"],
            defaults={"first_name": spec["first_name"], "last_name": spec["last_name"],
                      "password": make_password(DEMO_PASSWORD),
                      "xero_userid": _stable_uuid("user", spec["email"])},
        )
        wanted = list(orgs.values()) if spec["orgs"] == "all" else [orgs[c] for c in spec["orgs"]]
        user.organisations.add(*wanted)
    app = seed_app()
    return {"organisations": len(orgs), "users": len(USERS), "app": app.client_id}


def _seed_lists(org, spec, now):
    tax = spec["tax"]
    Currency.objects.bulk_create([Currency(organisation=org, code=c, description=CURRENCY_NAMES[c])
                                  for c in spec["currencies"]])
    TaxRate.objects.bulk_create([
        TaxRate(organisation=org, name=name, tax_type=tax_type, report_tax_type=report, rate=Decimal(rate),
                for_revenue=revenue, for_expenses=expenses)
        for name, tax_type, report, rate, revenue, expenses in spec["tax_rates"]
    ])
    accounts = []
    for code, name, type_, klass, tax_key, extra in CHART:
        if code == "820":
            name = {"GST": "GST", "VAT": "VAT"}.get(spec["sales_tax_name"], "Sales Tax Payable")
        accounts.append(Account(
            organisation=org, account_id=_stable_uuid("account", spec["short_code"], code), code=code, name=name,
            type=type_, account_class=klass, tax_type=tax[tax_key], status=extra.get("status", "ACTIVE"),
            enable_payments=extra.get("enable_payments", False), system_account=extra.get("system_account", ""),
            bank_account_number="0123-4567-8901" if type_ == "BANK" else "",
        ))
    foreign = next(c for c in spec["currencies"] if c != org.base_currency)
    accounts.append(Account(organisation=org, account_id=_stable_uuid("account", spec["short_code"], "092"),
                            code="092", name=f"{foreign} Account", type="BANK", account_class="ASSET",
                            tax_type=tax["none"], currency_code=foreign, bank_account_number="9999-0001"))
    Account.objects.bulk_create(accounts)
    contacts = []
    for index, name in enumerate(spec["customers"] + spec["suppliers"]):
        is_customer = name in spec["customers"]
        slug = "".join(ch for ch in name.lower() if ch.isalnum())[:20]
        contacts.append(Contact(
            organisation=org, contact_id=_stable_uuid("contact", spec["short_code"], name), name=name,
            email=f"accounts@{slug}.example", is_customer=is_customer, is_supplier=not is_customer,
            account_number=f"{'C' if is_customer else 'S'}{index + 1:03d}",
            updated_at=now,
        ))
    contacts.append(Contact(organisation=org, contact_id=_stable_uuid("contact", spec["short_code"], "archived"),
                            name="Closed Account (archived)", status="ARCHIVED", is_customer=True, updated_at=now))
    for contact in contacts:
        contact.name_key = contact_name_key(contact.name)
    Contact.objects.bulk_create(contacts)
    region = TrackingCategory.objects.create(
        organisation=org, tracking_category_id=_stable_uuid("tracking", spec["short_code"], "Region"), name="Region")
    department = TrackingCategory.objects.create(
        organisation=org, tracking_category_id=_stable_uuid("tracking", spec["short_code"], "Department"),
        name="Department")
    options = [TrackingOption(category=region, name=r,
                              tracking_option_id=_stable_uuid("option", spec["short_code"], "Region", r))
               for r in spec["regions"]]
    for name, status in (("Sales", "ACTIVE"), ("Operations", "ACTIVE"), ("Administration", "ACTIVE"),
                         ("Events (closed)", "ARCHIVED")):
        options.append(TrackingOption(category=department, name=name, status=status,
                                      tracking_option_id=_stable_uuid("option", spec["short_code"], "Dept", name)))
    TrackingOption.objects.bulk_create(options)
