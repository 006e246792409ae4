"""What Xero's official OpenAPI file says an element may hold, applied to what the sandbox accepts.

The rules (every `maxLength`, `enum` and `required` reachable from the schemas the sandbox
writes, and the query parameters each list endpoint takes) are extracted from
`xero_accounting.yaml` by `manage.py sandbox_openapi_rules` into `openapi_rules.json` beside
this module, so the sandbox does not parse a 900 KB YAML file at run time. A test rebuilds
the rules from the vendored file and fails if the JSON has drifted.

`element_errors(schema, element)` walks one submitted element with its schema and returns
every message that applies (Xero reports them all at once); it is called for every element
of every write, before the resource's own rules. See docs/sandbox.md for the wording.
"""
import json
from functools import lru_cache
from pathlib import Path

RULES_PATH = Path(__file__).resolve().parent / "openapi_rules.json"

# The schemas the sandbox writes, by resource (request bodies of PUT/POST /<Resource>).
WRITE_ROOTS = {"Invoices": "Invoice", "CreditNotes": "CreditNote", "Payments": "Payment",
               "ManualJournals": "ManualJournal", "Contacts": "Contact"}
# The list endpoints whose query parameters the sandbox honours (from the file's `parameters`).
LIST_PATHS = ["/Accounts", "/Contacts", "/Currencies", "/Invoices", "/CreditNotes", "/Payments", "/ManualJournals",
              "/TaxRates", "/TrackingCategories", "/Organisation"]
# Where the file is silent, Xero's limits as XERO_FACTS.md states them (unconfirmed there,
# kept because the stricter reading wins): a line's Description like an item's, 4,000.
EXTRA_MAX_LENGTH = {("LineItem", "Description"): 4000, ("ManualJournalLine", "Description"): 4000}


# --- building the rules from the YAML (manage.py sandbox_openapi_rules, and the drift test) ---------

def build_rules(spec: dict) -> dict:
    """{"schemas": {Name: {"required": [...], "properties": {prop: {maxLength?, enum?, ref?, items?}}}},
    "list_parameters": {"/Invoices": [...]}, "unitdp": ["/Invoices", ...]} from the parsed file."""
    schemas = spec["components"]["schemas"]
    params = spec["components"].get("parameters", {})

    def ref_name(node):
        ref = (node or {}).get("$ref", "")
        return ref.rsplit("/", 1)[-1] if ref.startswith("#/components/schemas/") else None

    out, todo = {}, list(WRITE_ROOTS.values())
    while todo:
        name = todo.pop()
        if name in out or name not in schemas:
            continue
        schema = schemas[name]
        props = {}
        for prop, node in (schema.get("properties") or {}).items():
            rule = {}
            if node.get("readOnly"):
                continue
            target = ref_name(node)
            if target and "enum" in schemas.get(target, {}):
                rule["enum"] = list(schemas[target]["enum"])
            elif target and schemas.get(target, {}).get("type", "object") == "object":
                rule["ref"] = target
                todo.append(target)
            if "enum" in node:
                rule["enum"] = list(node["enum"])
            if "maxLength" in node:
                rule["maxLength"] = node["maxLength"]
            if (name, prop) in EXTRA_MAX_LENGTH and "maxLength" not in rule:
                rule["maxLength"] = EXTRA_MAX_LENGTH[(name, prop)]
            if node.get("type") == "array":
                item = ref_name(node.get("items"))
                if item and schemas.get(item, {}).get("type", "object") == "object" and "enum" not in schemas.get(item, {}):
                    rule["items"] = item
                    todo.append(item)
            if rule:
                props[prop] = rule
        out[name] = {"required": list(schema.get("required") or []), "properties": props}

    def param_names(path):
        names = []
        for param in (spec["paths"].get(path, {}).get("get", {}).get("parameters") or []):
            if "$ref" in param:
                param = params.get(param["$ref"].rsplit("/", 1)[-1], {})
            if param.get("in") == "query":
                names.append(param["name"])
        return names

    def write_param_names(path):
        out = {}
        for method in ("put", "post"):
            names = []
            for param in (spec["paths"].get(path, {}).get(method, {}).get("parameters") or []):
                if "$ref" in param:
                    param = params.get(param["$ref"].rsplit("/", 1)[-1], {})
                if param.get("in") == "query":
                    names.append(param["name"])
            out[method] = names
        return out

    unitdp = sorted(path for path, ops in spec["paths"].items() for op in ops.values() if isinstance(op, dict)
                    for p in op.get("parameters") or [] if p.get("$ref", "").endswith("/unitdp"))
    return {"schemas": dict(sorted(out.items())),
            "list_parameters": {path: param_names(path) for path in LIST_PATHS},
            "write_parameters": {f"/{name}": write_param_names(f"/{name}") for name in WRITE_ROOTS},
            "unitdp": sorted(set(unitdp))}


@lru_cache(maxsize=1)
def rules() -> dict:
    return json.loads(RULES_PATH.read_text(encoding="utf-8"))


def list_parameters(resource_name: str) -> set[str]:
    """The query parameters xero_accounting.yaml lists for GET /<resource_name>."""
    return set(rules()["list_parameters"].get(f"/{resource_name}", []))


def write_parameters(resource_name: str, method: str) -> set[str]:
    """The query parameters the file lists for PUT/POST /<resource_name> (e.g. POST /Payments
    has no summarizeErrors: there it is ignored and one bad element fails the call)."""
    return set(rules()["write_parameters"].get(f"/{resource_name}", {}).get(method.lower(), []))


def takes_unitdp(resource_name: str) -> bool:
    return f"/{resource_name}" in rules()["unitdp"]


# --- checking ---------------------------------------------------------------------------------

def msg_too_long(field: str, limit: int) -> str:
    return f"The {field} must not be more than {limit} characters long."


def is_length_error(message: str) -> bool:
    return message.endswith(" characters long.") and " must not be more than " in message


def msg_enum(field: str, value) -> str:
    return f"'{value}' is not a valid value for {field}."


def msg_required(field: str) -> str:
    return f"The {field} field is mandatory."


def element_errors(schema_name: str, element, *, _path: str = "", _depth: int = 0) -> list[str]:
    """Every maxLength / enum / required rule of the file that `element` breaks, as messages
    naming the field (e.g. "The Contact.Name must not be more than 255 characters long.").
    Enums compare exactly (the file's spelling); lengths count characters. Depth-bounded."""
    schema = rules()["schemas"].get(schema_name)
    if schema is None or not isinstance(element, dict) or _depth > 6:
        return []
    errors = []
    for name in schema["required"]:
        value = element.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            errors.append(msg_required(_path + name))
    for prop, rule in schema["properties"].items():
        if prop not in element or element[prop] is None:
            continue
        value, label = element[prop], _path + prop
        if "maxLength" in rule and isinstance(value, str) and len(value) > rule["maxLength"]:
            errors.append(msg_too_long(label, rule["maxLength"]))
        if "enum" in rule and value not in rule["enum"]:
            errors.append(msg_enum(label, value))
        if "ref" in rule and isinstance(value, dict):
            errors += element_errors(rule["ref"], value, _path=label + ".", _depth=_depth + 1)
        if "items" in rule and isinstance(value, list):
            for item in value:
                errors += element_errors(rule["items"], item, _path=label + ".", _depth=_depth + 1)
    return list(dict.fromkeys(errors))
