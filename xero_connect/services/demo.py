"""Demo data: organisations, people with known demo-only passwords, local exchange rates.

Idempotent: running it again changes nothing that exists and adds what is missing.
"""
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction

from ..models import ExchangeRate, Membership, Organisation, Role
from .demo_documents import demo_seed_documents

DEMO_PASSWORD = "xero-connect-demo"  # demo-only; printed by seed_demo

# name, slug, base currency, {currency: local rate or None (no valid rate)}. The first four are
# named like the sandbox's Xero organisations they belong with, so the demo's "select your
# organisation" step is obvious; a few currencies have no valid rate, so the currency import
# shows what it skips and why. Harbour Bakery has no Xero organisation of its own.
ORGANISATIONS = [
    ("Kōwhai Coffee Roasters", "kowhai-coffee", "NZD", {"AUD": "0.9180", "USD": "0.5950", "GBP": None}),
    ("Wattle & Gum Outdoor Supplies", "wattle-gum", "AUD", {"NZD": "1.0890", "USD": "0.6480", "SGD": None}),
    ("Thistle Lane Bakery", "thistle-lane", "GBP", {"EUR": "1.1650", "USD": "1.2700"}),
    ("Harbor Point Bike Co.", "harbor-point", "USD", {"CAD": "1.3600", "EUR": "0.9200", "MXN": None}),
    ("Harbour Bakery Ltd", "harbour-bakery", "NZD", {"AUD": "0.9180"}),
]

# username, first, last, staff, {slug: role}
PEOPLE = [
    ("alice", "Alice", "Admin", False, {"kowhai-coffee": Role.ADMIN}),
    ("mark", "Mark", "Member", False, {"kowhai-coffee": Role.MEMBER}),
    ("bea", "Bea", "Bookkeeper", False, {
        "kowhai-coffee": Role.MEMBER, "wattle-gum": Role.ADMIN, "thistle-lane": Role.ADMIN,
        "harbor-point": Role.MEMBER, "harbour-bakery": Role.ADMIN,
    }),
    ("hamish", "Hamish", "Harbour", False, {"harbour-bakery": Role.ADMIN, "wattle-gum": Role.MEMBER}),
    ("priya", "Priya", "Parts", False, {"harbor-point": Role.ADMIN}),
    ("ops", "Olive", "Operations", True, {}),
]


@dataclass
class DemoLogin:
    username: str
    password: str
    description: str


@transaction.atomic
def demo_seed(*, documents_per_organisation: int = 0) -> list[DemoLogin]:
    User = get_user_model()
    orgs = {}
    for name, slug, base, rates in ORGANISATIONS:
        org, _ = Organisation.objects.get_or_create(slug=slug, defaults={"name": name, "base_currency": base})
        orgs[slug] = org
        for code, rate in rates.items():
            ExchangeRate.objects.get_or_create(
                organisation=org, currency_code=code, defaults={"rate": Decimal(rate) if rate else None})
    logins = []
    for username, first, last, staff, roles in PEOPLE:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User.objects.create_user(username=username, password=DEMO_PASSWORD, first_name=first,
                                            last_name=last, email=f"{username}@demo.example",
                                            is_staff=staff, is_superuser=staff)
        for slug, role in roles.items():
            Membership.objects.get_or_create(organisation=orgs[slug], user=user, defaults={"role": role})
        described = ", ".join(f"{Role(r).label} of {orgs[s].name}" for s, r in roles.items()) or "platform staff (Django admin)"
        logins.append(DemoLogin(username, DEMO_PASSWORD, described))
    if documents_per_organisation:
        for org in orgs.values():
            demo_seed_documents(organisation=org, count=documents_per_organisation)
    return logins
