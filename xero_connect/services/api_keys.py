"""API keys of the host system: made, listed and revoked by an organisation's Admins (the
"API keys" page) or by platform staff (the Django admin, platform keys)."""
import logging

from django.contrib.auth import get_user_model
from django.db import transaction

from .. import roles
from ..models import APIKey, Organisation
from ..roles import Action

log = logging.getLogger("xero.api")


def _actor_for(api_key: APIKey):
    """The user changes made with this key are recorded as: named after the key, unable to sign in."""
    user = get_user_model()(username=f"api-key-{api_key.prefix}", first_name=api_key.name[:150], is_active=False)
    user.set_unusable_password()
    user.save()
    return user


@transaction.atomic
def api_key_prepare(api_key: APIKey, *, created_by=None) -> str:
    """Give a new (unsaved) key its secret and its actor, and save it. Returns the full key:
    shown once, stored only hashed."""
    key = APIKey.objects.assign_key(api_key)
    api_key.created_by = created_by
    api_key.save()
    api_key.actor = _actor_for(api_key)
    api_key.save(update_fields=["actor"])
    log.info("xero.api.key.created key=%s organisation=%s by=%s", api_key.prefix, api_key.organisation_id,
             getattr(created_by, "pk", None))
    return key


def api_key_create(*, organisation: Organisation, actor, name: str, expiry_date=None) -> tuple[APIKey, str]:
    """An organisation key (Admins only: AdminRequired otherwise). Returns (key, full key)."""
    roles.require(user=actor, organisation=organisation, action=Action.MANAGE_API_KEYS)
    api_key = APIKey(organisation=organisation, name=name, expiry_date=expiry_date)
    return api_key, api_key_prepare(api_key, created_by=actor)


def api_key_revoke(*, organisation: Organisation, actor, api_key: APIKey) -> None:
    """Revoke for good (the library refuses to un-revoke). Admins only."""
    roles.require(user=actor, organisation=organisation, action=Action.MANAGE_API_KEYS)
    if api_key.organisation_id != organisation.pk:
        raise ValueError("The key belongs to another organisation.")
    if not api_key.revoked:
        api_key.revoked = True
        api_key.save(update_fields=["revoked"])
        log.info("xero.api.key.revoked key=%s organisation=%s by=%s", api_key.prefix, organisation.pk, actor.pk)


def api_keys_of(*, organisation: Organisation):
    return APIKey.objects.filter(organisation=organisation).select_related("created_by").order_by("-created")
