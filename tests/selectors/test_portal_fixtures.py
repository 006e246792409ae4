"""Helpers (no tests): many organisations in varied states for portal tests, made with bulk inserts."""
from datetime import date, timedelta

from django.utils import timezone

from xero_connect.models import (
    ConnectionStatus, DocumentType, ExportAttempt, ExportRecord, ExportState, ListName, ListSyncState, Membership,
    Organisation, Role, SourceDocument, XeroConnection,
)

# Cycle of states: index % 5
STATES = ["connected", "connected", "needs_reconnect", "not_connected", "removed_in_xero"]


def bulk_organisations(user, count, *, start=0, admin=None, prefix="Client"):
    """`count` organisations where `user` is Admin of even ones and Member of odd ones (with `admin`
    as their Admin); each with a connection in a cycle of states, export records in every state,
    a failed attempt yesterday, an export today and a list sync."""
    now = timezone.now()
    orgs = Organisation.objects.bulk_create([
        Organisation(name=f"{prefix} {i:04d}", slug=f"{prefix.lower()}-{i:04d}") for i in range(start, start + count)
    ])
    if orgs and orgs[0].pk is None:  # backends without RETURNING
        orgs = list(Organisation.objects.filter(slug__in=[o.slug for o in orgs]).order_by("slug"))
    memberships = []
    for i, org in enumerate(orgs, start=start):
        memberships.append(Membership(organisation=org, user=user, role=Role.ADMIN if i % 2 == 0 else Role.MEMBER))
        if admin is not None and i % 2 == 1:
            memberships.append(Membership(organisation=org, user=admin, role=Role.ADMIN))
    Membership.objects.bulk_create(memberships)
    connections = []
    for i, org in enumerate(orgs, start=start):
        state = STATES[i % len(STATES)]
        if state == "not_connected":
            continue
        connections.append(XeroConnection(
            organisation=org, is_current=True, status=state, tenant_id=f"t-{org.slug}", tenant_name=f"{org.name} (Xero)",
            refresh_token_issued_at=now - timedelta(days=i % 30), refresh_token_encrypted="x"))
    XeroConnection.objects.bulk_create(connections)
    docs = []
    for org in orgs:
        for n, state in enumerate(ExportState.values):
            docs.append(SourceDocument(organisation=org, doc_type=DocumentType.SALES_INVOICE, number=f"INV-{n}",
                                       date=date.today() - timedelta(days=n), total=10))
    SourceDocument.objects.bulk_create(docs)
    docs = list(SourceDocument.objects.filter(organisation__in=orgs).order_by("organisation_id", "number"))
    records = []
    for doc in docs:
        state = ExportState.values[int(doc.number.split("-")[1])]
        records.append(ExportRecord(
            organisation_id=doc.organisation_id, document=doc, doc_type=doc.doc_type, doc_date=doc.date, state=state,
            exported_at=now if state == ExportState.EXPORTED else None))
    ExportRecord.objects.bulk_create(records)
    failed = ExportRecord.objects.filter(organisation__in=orgs, state=ExportState.FAILED)
    ExportAttempt.objects.bulk_create([
        ExportAttempt(record=r, started_at=now - timedelta(days=1), outcome=ExportAttempt.Outcome.VALIDATION_FAILED)
        for r in failed])
    ListSyncState.objects.bulk_create([
        ListSyncState(organisation=org, list_name=ListName.ACCOUNTS, last_refreshed_at=now - timedelta(hours=3))
        for org in orgs])
    return orgs


def plain_organisations(user, count, *, start=0, role=Role.ADMIN, prefix="Plain"):
    orgs = Organisation.objects.bulk_create([
        Organisation(name=f"{prefix} {i:04d}", slug=f"{prefix.lower()}-{i:04d}") for i in range(start, start + count)
    ])
    Membership.objects.bulk_create([Membership(organisation=o, user=user, role=role) for o in orgs])
    return orgs


__all__ = ["bulk_organisations", "plain_organisations", "ConnectionStatus"]
