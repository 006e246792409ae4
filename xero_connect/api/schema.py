"""OpenAPI additions: the API-key scheme, and the problem-details answers every operation may give."""
from drf_spectacular.extensions import OpenApiAuthenticationExtension

PROBLEM = {
    "type": "object",
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object", "properties": {
            "field": {"type": "string"}, "message": {"type": "string"}}, "required": ["field", "message"]}},
    },
    "required": ["type", "title", "status", "detail"],
}
ANSWERS = {
    "400": "The request has problems (see errors).",
    "401": "No API key, or the key is unknown, revoked or expired.",
    "403": "The key may not do this (e.g. only platform keys create organisations).",
    "404": "Not found among what the key reaches.",
    "405": "Method not allowed.",
    "406": "Only JSON is answered.",
    "409": "A request with this Idempotency-Key is still running.",
    "413": "The body is too large.",
    "415": "Send JSON.",
    "422": "This Idempotency-Key was used with another body.",
    "429": "Too many requests for this key; see Retry-After.",
}


class APIKeyScheme(OpenApiAuthenticationExtension):
    target_class = "xero_connect.api.auth.APIKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "`Api-Key <key>`: an organisation key (API keys page) or a platform key (admin)."}


def add_problem_answers(result, generator, request, public):
    """drf-spectacular post-processing hook: every operation documents its problem answers."""
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM
    ref = {"$ref": "#/components/schemas/Problem"}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for code, words in ANSWERS.items():
                responses.setdefault(code, {"description": words,
                                            "content": {"application/problem+json": {"schema": ref}}})
    return result
