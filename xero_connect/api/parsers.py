"""JSON bodies with numbers read as Decimal (money never passes through float), capped at
API_MAX_BODY_BYTES (413 beyond)."""
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
            return json.loads(data.decode("utf-8"), parse_float=Decimal,
                              parse_constant=_refuse_constant)
        except (ValueError, UnicodeDecodeError) as exc:
            raise exceptions.ParseError(f"The body is not valid JSON: {exc}")
