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
def state_fact(code: str) -> str:
    """What a connection state means, in one sentence (messages.STATE_FACTS)."""
    return messages.STATE_FACTS.get(code, messages.STATE_FACTS[messages.NOT_CONNECTED])


@register.simple_tag
def sentence(name: str) -> str:
    """`{% sentence "NOTHING_HAPPENED_YET" %}`: a shared sentence by its name in messages.py.
    An unknown name is a template bug and raises AttributeError (seen in tests, never guessed)."""
    value = getattr(messages, name)
    if not name.isupper() or not isinstance(value, str):
        raise AttributeError(f"messages.{name} is not a shared sentence")
    return value
