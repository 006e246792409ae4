"""Template filters that take their words from `xero_connect.messages` (the one module for words)."""
from django import template

from .. import messages

register = template.Library()


@register.filter
def state_name(code: str) -> str:
    return messages.state_name(code)


@register.filter
def role_phrase(role: str) -> str:
    return messages.role_phrase(role)


@register.filter
def scope_words(scopes) -> list[str]:
    return messages.scope_words(scopes or "")


@register.filter
def refresh_name(trigger: str) -> str:
    return messages.refresh_name(trigger)


@register.filter
def names_or(names) -> str:
    return messages.names_or(names or [])


@register.filter
def drift_count(n: int) -> str:
    """The portal's count of documents changed in Xero (#16)."""
    return messages.drift_count(n)


@register.filter
def xero_waiting_count(n: int) -> str:
    """The portal's count of items waiting for Xero to answer again (#13)."""
    return messages.xero_waiting_count(n)
