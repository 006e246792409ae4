"""Rebuild xero_sandbox/openapi_rules.json from Xero's official OpenAPI file."""
import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from xero_sandbox import contract

DEFAULT_SPEC = Path(settings.BASE_DIR) / "tests" / "sandbox" / "openapi" / "xero_accounting.yaml"


def load_spec(path) -> dict:
    import yaml  # PyYAML comes with openapi-core (tests/requirements); only this command and a test use it
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=loader)


class Command(BaseCommand):
    requires_system_checks = []
    help = "Extract maxLength/enum/required rules and list parameters from xero_accounting.yaml for the sandbox."

    def add_arguments(self, parser):
        parser.add_argument("--spec", default=str(DEFAULT_SPEC), help="path to xero_accounting.yaml")

    def handle(self, *args, spec, **options):
        rules = contract.build_rules(load_spec(spec))
        contract.RULES_PATH.write_text(json.dumps(rules, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        self.stdout.write(f"{len(rules['schemas'])} schemas → {contract.RULES_PATH}")
