"""JSON bodies with numbers read as Decimal (money never passes through float), capped at
API_MAX_BODY_BYTES (413 beyond). A field NAME holding a NUL character or an unpaired surrogate
(both legal JSON escapes, both refused by PostgreSQL's text and jsonb) is a 400 naming where,
before any view stores or echoes it; such VALUES are refused per element by the serializers
(never all-or-nothing)."""
import json
from decimal import Decimal

from django.conf import settings
from rest_framework import exceptions, parsers, status


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."


def _refuse_constant(name):
    raise ValueError(f"{name} is not a number JSON allows")


class DecimalJSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.API_MAX_BODY_BYTES
        if stream is None:
            return None
        data = stream.read(limit + 1)
        if len(data) > limit:
            raise RequestTooLarge(f"The request body is larger than {limit} bytes; send fewer documents at once.")
        try:
            parsed = json.loads(data.decode("utf-8"), parse_float=Decimal,
                                parse_constant=_refuse_constant)
        except (ValueError, UnicodeDecodeError) as exc:
            raise exceptions.ParseError(f"The body is not valid JSON: {exc}")
        except RecursionError:
            raise exceptions.ParseError("The body is nested too deeply to read.")
        where = _unstorable_text(parsed)
        if where is not None:
            raise exceptions.ParseError(
                f"A field name at “{where}” holds a NUL character (\\u0000) or an unpaired surrogate; "
                "field names may not contain them.")
        return parsed


def _bad_text(text: str) -> bool:
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a \\udXXX escape
        return True
    return False


def _unstorable_text(value, path: str = "body") -> str | None:
    """The path of the first field name holding text no database column can store, or None.
    Iterative (a body nested thousands deep cannot exhaust the stack); bounded by the body cap."""
    stack = [(value, path)]
    while stack:
        item, at = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                shown = key.replace("\x00", "\\0").encode("utf-8", "replace").decode()
                if _bad_text(key):
                    return f"{at}.{shown}"
                stack.append((child, f"{at}.{shown}"))
        elif isinstance(item, list):
            stack.extend((child, f"{at}[{i}]") for i, child in enumerate(item))
    return None
