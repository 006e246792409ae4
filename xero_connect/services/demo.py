"""Demo data: organisations, people with known demo-only passwords, local exchange rates.

Idempotent: running it again changes nothing that exists and adds what is missing.
"""
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction

from ..models import ExchangeRate, Membership, Organisation, Role

DEMO_PASSWORD = "xero-connect-demo"  # demo-only; printed by seed_demo

# name, slug, base currency, {currency: local rate or None (no valid rate)}
ORGANISATIONS = [
    ("Kiwi Kitchenware Ltd", "kiwi-kitchenware", "NZD", {"AUD": "0.9180", "USD": "0.5950", "GBP": "0.4710", "EUR": None}),
    ("Brolly & Co Pty Ltd", "brolly-co", "AUD", {"NZD": "1.0890", "USD": "0.6480", "GBP": None}),
    ("Thames Tea Traders Ltd", "thames-tea", "GBP", {"EUR": "1.1650", "USD": "1.2700", "AUD": None}),
    ("Pacific Parts Inc", "pacific-parts", "USD", {"NZD": "1.6800", "AUD": "1.5430", "EUR": "0.9200", "GBP": None}),
    ("Harbour Bakery Ltd", "harbour-bakery", "NZD", {"AUD": "0.9180"}),
]

# username, first, last, staff, {slug: role}
PEOPLE = [
    ("alice", "Alice", "Admin", False, {"kiwi-kitchenware": Role.ADMIN}),
    ("mark", "Mark", "Member", False, {"kiwi-kitchenware": Role.MEMBER}),
    ("bea", "Bea", "Bookkeeper", False, {
        "kiwi-kitchenware": Role.MEMBER, "brolly-co": Role.ADMIN, "thames-tea": Role.ADMIN,
        "pacific-parts": Role.MEMBER, "harbour-bakery": Role.ADMIN,
    }),
    ("hamish", "Hamish", "Harbour", False, {"harbour-bakery": Role.ADMIN, "brolly-co": Role.MEMBER}),
    ("priya", "Priya", "Parts", False, {"pacific-parts": Role.ADMIN}),
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
        from .demo_documents import demo_seed_documents

        for org in orgs.values():
            demo_seed_documents(organisation=org, count=documents_per_organisation)
    return logins
