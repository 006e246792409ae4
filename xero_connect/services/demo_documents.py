"""Demo documents: a few hundred realistic ones over recent months for a demo organisation.

They use the account codes, tax types, contacts and tracking that the local Xero sandbox
seeds for the organisation's base currency (NZD, AUD, GBP, USD), so exports succeed — except a
handful of bills coded to 455 "Old Marketing Costs", an account archived in Xero, so a failure
(with Xero's message) shows on the Export Data page. The product never imports the sandbox;
the names are copied here.

Some documents carry the host system's own categories instead of Xero codes (#15): every
sixth sales invoice books its wholesale line to the category WHOLESALE, every fourth payment
names the payment method CARD. After connecting, they wait as "Needs mapping" until an Admin
confirms the suggested mapping (Sales; the bank account) on the Account mapping page, and then go
out by themselves. Those invoices are never the ones the demo payments pay.

Idempotent: numbers are fixed per organisation, existing ones are left alone.
"""
import random
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from ..models import DocumentType, HostCategory, SourceDocument
from .documents import LineSpec, document_create
from .exports.ledger import ledger_sync

ARCHIVED_ACCOUNT = "455"
# The host's own categories the demo documents use, with the names its Account mapping page shows.
DEMO_CATEGORIES = [(HostCategory.Kind.SALES, "WHOLESALE", "Wholesale coffee orders"),
                   (HostCategory.Kind.PAYMENT_METHOD, "CARD", "Card payments (EFTPOS)")]

PROFILES = {
    "NZD": {"out": "OUTPUT2", "in": "INPUT2", "none": "NONE",
            "regions": ["Auckland", "Wellington", "Canterbury", "Otago"],
            "customers": ["Ponsonby Espresso Bar", "Cuba Street Café", "Harbourside Deli", "Karori Bakehouse",
                          "Mount Eden Organics", "Riccarton Food Co", "Queenstown Alpine Lodge", "Te Aro Kitchen"],
            "suppliers": ["Pacific Green Bean Importers", "Kiwi Packaging Supplies", "Mainfreight Couriers",
                          "Vector Energy", "Spark Business", "Auckland Office Rentals"]},
    "AUD": {"out": "OUTPUT", "in": "INPUT", "none": "BASEXCLUDED",
            "regions": ["New South Wales", "Victoria", "Queensland", "Western Australia"],
            "customers": ["Blue Mountains Adventure Tours", "Byron Bay Surf School", "Grampians Scout Group",
                          "Cairns Reef Expeditions", "Margaret River Campground", "Fremantle Kayak Hire"],
            "suppliers": ["Sea to Summit Wholesale", "Macpac Distribution", "Toll Priority", "AGL Energy",
                          "Telstra Business", "Officeworks"]},
    "GBP": {"out": "OUTPUT2", "in": "INPUT2", "none": "NONE",
            "regions": ["Edinburgh", "Glasgow", "London", "Manchester"],
            "customers": ["Leith Harbour Café", "Stockbridge Deli", "Morningside Tearoom", "Royal Mile Hotel",
                          "Camden Lock Market", "Shoreditch Coffee Lab"],
            "suppliers": ["Mungoswells Flour Mill", "Scottish Power", "BT Business", "DPD Local",
                          "Brakes Foodservice", "Bidfood Scotland"]},
    "USD": {"out": "TAX001", "in": "NONE", "none": "NONE",
            "regions": ["Seattle", "Portland", "San Francisco", "San Diego"],
            "customers": ["Pike Place Couriers", "Golden Gate Rentals", "Mission Bay Commuters Club",
                          "Puget Sound Cycling Team", "Rose City Bike Share", "Venice Beach Cruisers"],
            "suppliers": ["Shimano North America", "Trek Dealer Services", "UPS Freight", "Seattle City Light",
                          "Comcast Business", "QBP Distribution"]},
}
SALES_LINES = [("Wholesale order", "200"), ("Delivery", "260"), ("Workshop service", "200"), ("Gift cards", "260")]
BILL_LINES = [("Stock purchase", "310"), ("Freight", "425"), ("Power", "445"), ("Phone and internet", "489"),
              ("Office rent", "469"), ("Cleaning", "408"), ("Printing", "461")]


def _money(rng, low, high) -> Decimal:
    return Decimal(rng.randint(low * 100, high * 100)) / 100


@transaction.atomic
def demo_seed_documents(*, organisation, count: int = 300, months: int = 3, seed: int | None = None) -> int:
    """Create about `count` documents dated over the last `months` months. Returns how many
    were created (0 when they exist already)."""
    profile = PROFILES.get(organisation.base_currency, PROFILES["NZD"])
    rng = random.Random(seed if seed is not None else organisation.slug)
    today = timezone.localdate()
    start = today - timedelta(days=30 * months)
    span = (today - start).days
    existing = {(d.doc_type, d.number): d for d in SourceDocument.objects.filter(organisation=organisation)}
    prefix = organisation.slug[:3].upper()
    created = 0
    invoices = []
    plan = ([DocumentType.SALES_INVOICE] * 45 + [DocumentType.BILL] * 30 + [DocumentType.SALES_CREDIT_NOTE] * 4
            + [DocumentType.PURCHASE_CREDIT_NOTE] * 3 + [DocumentType.PAYMENT] * 12 + [DocumentType.MANUAL_JOURNAL] * 6)
    seq = {t: 0 for t in DocumentType.values}
    for kind, code, name in DEMO_CATEGORIES:
        HostCategory.objects.get_or_create(organisation=organisation, kind=kind, code=code, defaults={"name": name})
    for i in range(count):
        doc_type = plan[i % len(plan)] if i >= 10 else plan[(i * 7) % len(plan)]
        if doc_type == DocumentType.PAYMENT and not invoices:
            doc_type = DocumentType.SALES_INVOICE
        seq[doc_type] += 1
        n = seq[doc_type]
        when = start + timedelta(days=rng.randint(0, span))
        number = {
            DocumentType.SALES_INVOICE: f"{prefix}-INV-{n:05d}",
            DocumentType.BILL: f"{prefix}-BILL-{n:05d}",
            DocumentType.SALES_CREDIT_NOTE: f"{prefix}-CN-{n:04d}",
            DocumentType.PURCHASE_CREDIT_NOTE: f"{prefix}-SCN-{n:04d}",
            DocumentType.PAYMENT: f"{prefix}-PAY-{n:05d}",
            DocumentType.MANUAL_JOURNAL: f"{prefix}-MJ-{n:04d}",
        }[doc_type]
        if (doc_type, number) in existing:
            if doc_type == DocumentType.SALES_INVOICE and n % 6 != 5:  # never pay one that waits for mapping
                invoices.append(existing[(doc_type, number)])
            continue
        region = rng.choice(profile["regions"])
        tracking = [{"category": "Region", "option": region}]
        if doc_type in (DocumentType.SALES_INVOICE, DocumentType.SALES_CREDIT_NOTE):
            by_category = doc_type == DocumentType.SALES_INVOICE and n % 6 == 5
            lines = [LineSpec(description=desc, quantity=Decimal(rng.randint(1, 12)),
                              unit_amount=_money(rng, 8, 180), tax_type=profile["out"], tracking=tracking,
                              **({"category": "WHOLESALE"} if by_category and code == "200"
                                 else {"account_code": code}))
                     for desc, code in rng.sample(SALES_LINES, rng.randint(1, 3))]
            contact = rng.choice(profile["customers"])
        elif doc_type in (DocumentType.BILL, DocumentType.PURCHASE_CREDIT_NOTE):
            picks = rng.sample(BILL_LINES, rng.randint(1, 2))
            if doc_type == DocumentType.BILL and n % 25 == 7:
                picks = [("Brochure reprint (old marketing budget)", ARCHIVED_ACCOUNT)]  # fails in Xero: archived
            lines = [LineSpec(description=desc, quantity=Decimal(1), unit_amount=_money(rng, 20, 900),
                              account_code=code, tax_type=profile["in"]) for desc, code in picks]
            contact = rng.choice(profile["suppliers"])
        elif doc_type == DocumentType.MANUAL_JOURNAL:
            amount = _money(rng, 50, 600)
            lines = [LineSpec(description="Stock write-down", line_amount=amount, account_code="310",
                              tax_type=profile["none"]),
                     LineSpec(description="Stock write-down", line_amount=-amount, account_code="630",
                              tax_type=profile["none"])]
            doc = document_create(organisation=organisation, doc_type=doc_type, number=number, date=when,
                                  narration=f"Stock adjustment {when:%B %Y}", lines=lines,
                                  line_amount_types="NoTax", sync_ledger=False)
            created += 1
            continue
        else:  # payment against an earlier sales invoice, part or whole
            paid = rng.choice(invoices)
            amount = min(paid.total, _money(rng, 10, 200)) or paid.total
            document_create(organisation=organisation, doc_type=doc_type, number=number,
                            date=max(when, paid.date), paid_document=paid, amount=amount,
                            reference=f"Payment for {paid.number}", sync_ledger=False,
                            **({"payment_method": "CARD"} if n % 4 == 2 else {"payment_account_code": "090"}))
            created += 1
            continue
        doc = document_create(organisation=organisation, doc_type=doc_type, number=number, date=when,
                              due_date=when + timedelta(days=20), contact_name=contact, lines=lines,
                              reference=f"PO {rng.randint(1000, 9999)}" if doc_type == DocumentType.BILL else "",
                              sync_ledger=False)
        if doc_type == DocumentType.SALES_INVOICE and not any(line.category for line in lines):
            invoices.append(doc)
        created += 1
    ledger_sync(organisation=organisation)
    return created
