"""What `--org <slug> | --all` means for the product's management commands."""
from django.core.management.base import CommandError

from ..models import Organisation


def add_org_arguments(parser) -> None:
    """`--org <slug>` or `--all`, one of them required."""
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--org", help="Slug of one organisation.")
    who.add_argument("--all", action="store_true", help="Every organisation.")


def chosen_organisations(slug: str | None) -> list[Organisation]:
    """The organisation with `slug`, or every organisation by slug when `slug` is None.
    Raises CommandError naming an unknown slug."""
    if slug:
        found = list(Organisation.objects.filter(slug=slug))
        if not found:
            raise CommandError(f"No organisation with slug {slug!r}.")
        return found
    return list(Organisation.objects.order_by("slug"))
