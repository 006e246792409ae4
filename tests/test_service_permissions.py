"""The rule of docs/architecture.md "Who may": a service that takes `actor=` and changes an
organisation's data checks the actor's role itself (roles.require / roles.require_actor), so
a door that forgets its decorator still cannot let a Member do an Admin's work. Services that
do not are listed below with the reason; a new public function with `actor` must be one or
the other."""
import ast
from pathlib import Path

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from xero_connect import roles
from xero_connect.models import APIKey, CategoryMapping, DocumentType, ExportRecord, HostCategory, XeroDrift
from xero_connect.roles import Action
from xero_connect.services import api_keys, document_batches, documents, drift, mapping, webhooks_out
from xero_connect.services import connections as connection_services
from xero_connect.services.documents import LineSpec, document_create

SERVICES = Path(__file__).resolve().parents[1] / "xero_connect" / "services"
CHECKS = ("roles.require(", "roles.require_actor(", "require_actor(", "_require_admin(")

# actor= is only for the audit trail here, with the reason no role check belongs in the service.
AUDIT_ONLY = {
    "connection_problems.connection_mark_problem": "the app records what Xero proved; actor is who saw it",
    "xero_access.record_xero_failure": "the app records what Xero proved; actor is who saw it",
    "glance.connection_glance": "a read any member's page triggers; a removal is Xero's fact, not a choice",
    "diagnosis.connection_health_check": "Diagnose is allowed to every role (Action.DIAGNOSE); staff run it too",
    "connections/oauth_flow.pending_choose": "the pending sign-in must be the actor's own (_check_pending)",
    "connections/oauth_flow.pending_discard": "the pending sign-in must be the actor's own (checked there)",
    "lists.lists_refresh_enqueue": "every role may refresh lists; also run after a connect and by staff bulk jobs",
    "lists.lists_import_on_connect": "follows a connect already checked in connection_complete",
    "lists.lists_refresh_now": "commands and staff bulk jobs (staff are not members)",
    "exports/enqueue.exports_enqueue": "follow-up of the callers below and of drift/portal jobs, which check",
    "exports/enqueue.exports_enqueue_selected": "every role may export; staff bulk jobs re-check per organisation",
    "exports/enqueue.exports_enqueue_range": "every role may export; staff bulk jobs re-check per organisation",
    "exports/enqueue.exports_retry_failed": "every role may export; staff bulk jobs re-check per organisation",
    "exports/enqueue.exports_release_waiting": "the app releases after a connect or a mapping; no person acts",
    "exports/enqueue.exports_release_needs_mapping": "the app releases after a mapping was saved (checked there)",
    "portal.portal_bulk_start": "across organisations: roles.can per organisation and membership there",
    "portal.staff_bulk_start": "platform staff only (is_staff checked there), not a member role",
    "portal.organisations_disconnect": "platform staff only (checked there); connection_disconnect(as_staff=True)",
    "portal.documents_export_selected": "platform staff only (is_staff checked there), not a member role",
}


def _public_functions_with_actor():
    for path in sorted(SERVICES.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        for node in ast.parse(source).body:
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                names = [a.arg for a in node.args.args + node.args.kwonlyargs]
                if "actor" in names:
                    module = path.relative_to(SERVICES).with_suffix("").as_posix()
                    yield f"{module}.{node.name}", ast.get_source_segment(source, node)


def test_every_service_taking_an_actor_checks_the_role_or_says_why_not():
    unexplained, stale = [], []
    for name, source in _public_functions_with_actor():
        checks = any(c in source for c in CHECKS)
        if not checks and name not in AUDIT_ONLY:
            unexplained.append(name)
        if checks and name in AUDIT_ONLY:
            stale.append(name)
    assert unexplained == [], f"call roles.require_actor in these, or list them in AUDIT_ONLY: {unexplained}"
    assert stale == [], f"these check now; take them off AUDIT_ONLY: {stale}"
    assert set(AUDIT_ONLY) <= {name for name, _ in _public_functions_with_actor()}, "AUDIT_ONLY names a gone function"


ADMIN_WORK = {
    "documents_import_csv": lambda org, who: documents.documents_import_csv(organisation=org, actor=who, text=""),
    "api_key_create": lambda org, who: api_keys.api_key_create(organisation=org, actor=who, name="host"),
    "endpoint_create": lambda org, who: webhooks_out.endpoint_create(
        organisation=org, actor=who, url="https://host.example/hook"),
    "connection_disconnect": lambda org, who: connection_services.connection_disconnect(organisation=org, actor=who),
    "oauth_start": lambda org, who: connection_services.oauth_start(organisation=org, actor=who, session={}),
    "documents_upsert": lambda org, who: document_batches.documents_upsert(organisation=org, actor=who, elements=[]),
    "mapping_save": lambda org, who: mapping.mapping_save(organisation=org, actor=who, category=_category(org)),
    "mapping_accept_suggestions": lambda org, who: mapping.mapping_accept_suggestions(organisation=org, actor=who),
    "mapping_create_account": lambda org, who: mapping.mapping_create_account(
        organisation=org, actor=who, category=_category(org), code="4100", name="Wholesale", account_type="REVENUE"),
    "drift_accept": lambda org, who: drift.drift_accept(record=_voided_record(org), actor=who),
    "drift_reexport_as_new": lambda org, who: drift.drift_reexport_as_new(
        record=_voided_record(org), suffix="-R1", actor=who),
}


def _category(org) -> HostCategory:
    return HostCategory.objects.get_or_create(organisation=org, kind=HostCategory.Kind.SALES, code="WHOLESALE",
                                              defaults={"name": "Wholesale"})[0]


def _voided_record(org) -> ExportRecord:
    """An exported invoice voided in Xero: both drift actions would apply to it."""
    record = ExportRecord.objects.filter(organisation=org, document__number="INV-1").first()
    if record is None:
        doc = document_create(organisation=org, doc_type=DocumentType.SALES_INVOICE, number="INV-1",
                              date=timezone.localdate(), due_date=timezone.localdate(), contact_name="Cuba St Café",
                              lines=[LineSpec(description="Beans", quantity=Decimal(1), unit_amount=Decimal("100"),
                                              account_code="200", tax_type="OUTPUT2")])
        record = ExportRecord.objects.get(document=doc)
        ExportRecord.objects.filter(pk=record.pk).update(xero_id="0f1e2d3c-0000-4000-8000-000000000001",
                                                         xero_drift=XeroDrift.VOIDED, xero_total=Decimal("115.00"))
        record.refresh_from_db()
    return record


@pytest.mark.parametrize("name", sorted(ADMIN_WORK))
def test_a_member_or_an_outsider_is_refused_by_the_service_itself(name, org, member_user, outsider):
    for who in (member_user, outsider):
        with pytest.raises(PermissionDenied):
            ADMIN_WORK[name](org, who)


def test_a_refused_drift_action_changes_nothing(org, member_user):
    record = _voided_record(org)
    for action in ("drift_accept", "drift_reexport_as_new"):
        with pytest.raises(PermissionDenied):
            ADMIN_WORK[action](org, member_user)
    record.refresh_from_db()
    assert record.xero_drift == XeroDrift.VOIDED and record.replaced_by_id is None and not record.drift_note
    assert ExportRecord.objects.filter(organisation=org).count() == 1


def test_a_refused_member_leaves_the_suggestions_unconfirmed(org, member_user):
    CategoryMapping.objects.create(organisation=org, tenant_id="", category=_category(org), is_suggestion=True)
    with pytest.raises(PermissionDenied):
        mapping.mapping_accept_suggestions(organisation=org, actor=member_user)
    assert CategoryMapping.objects.get().is_suggestion is True


# --- an API key is an actor the roles table knows (roles.API_KEY_ACTIONS) ---------------------------

def _key_actor(api_key: APIKey):
    """The key's actor as a fresh row, so the check finds the key itself (one query)."""
    return get_user_model().objects.get(pk=api_key.actor_id)


def test_a_live_key_of_the_organisation_may_do_what_the_api_offers_there(org, admin_user):
    api_key, _ = api_keys.api_key_create(organisation=org, actor=admin_user, name="host")
    actor = _key_actor(api_key)
    assert mapping.mapping_accept_suggestions(organisation=org, actor=actor) == 0
    for action in (Action.MAP, Action.RESOLVE_DRIFT, Action.REEXPORT, Action.IMPORT_DOCUMENTS):
        roles.require_actor(actor=actor, organisation=org, action=action)
    endpoint, _ = webhooks_out.endpoint_create(organisation=org, actor=actor, url="https://host.example/hook")
    assert endpoint.created_by == actor


def test_a_key_is_refused_outside_its_reach_when_revoked_or_expired_and_for_xero_sign_in(org, other_org, admin_user):
    api_key, _ = api_keys.api_key_create(organisation=org, actor=admin_user, name="host")
    for action in (Action.CONNECT, Action.RECONNECT, Action.DISCONNECT, Action.SWITCH_TENANT):
        with pytest.raises(PermissionDenied):
            roles.require_actor(actor=_key_actor(api_key), organisation=org, action=action)
    with pytest.raises(PermissionDenied):
        mapping.mapping_accept_suggestions(organisation=other_org, actor=_key_actor(api_key))
    APIKey.objects.filter(pk=api_key.pk).update(expiry_date=timezone.now() - timedelta(minutes=1))
    with pytest.raises(PermissionDenied):
        mapping.mapping_accept_suggestions(organisation=org, actor=_key_actor(api_key))
    APIKey.objects.filter(pk=api_key.pk).update(expiry_date=None, revoked=True)
    with pytest.raises(PermissionDenied):
        mapping.mapping_accept_suggestions(organisation=org, actor=_key_actor(api_key))


def test_a_platform_key_reaches_its_chosen_organisations_only(org, other_org):
    api_key = APIKey(name="platform")
    api_keys.api_key_prepare(api_key)
    assert mapping.mapping_accept_suggestions(organisation=other_org, actor=_key_actor(api_key)) == 0  # every one
    api_key.organisations.add(org)
    assert mapping.mapping_accept_suggestions(organisation=org, actor=_key_actor(api_key)) == 0
    with pytest.raises(PermissionDenied):
        mapping.mapping_accept_suggestions(organisation=other_org, actor=_key_actor(api_key))


def test_an_inactive_person_is_checked_by_role_not_taken_for_a_key(org, admin_user, member_user):
    member_user.is_active = False
    member_user.save()
    with pytest.raises(PermissionDenied):
        mapping.mapping_accept_suggestions(organisation=org, actor=member_user)


def test_the_check_lets_an_admin_and_the_app_itself_through(org, admin_user):
    result = documents.documents_import_csv(organisation=org, actor=admin_user, text="")
    assert result is not None
    assert documents.documents_import_csv(organisation=org, actor=None, text="") is not None
