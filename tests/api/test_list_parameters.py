"""Every list's paging parameters, fuzzed: whatever a host sends as `cursor` or `page_size`,
the answer is the page (200) or a 400 problem naming that parameter — never a 404 (as if the
list were missing) nor a 5xx. The lists are read from the live schema (every GET with a
`cursor` parameter), so a new list is checked without being named here."""
import base64
import os

import pytest
from django.core.cache import cache
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from xero_connect.api.problems import CONTENT_TYPE as PROBLEM

from .test_documents import invoice, post

EXAMPLES = int(os.environ.get("LIST_PARAMETER_EXAMPLES", "40"))  # bounded per list; raise it for a deeper run


def _list_paths() -> list[str]:
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    return sorted(path for path, operations in paths.items()
                  if any(p["name"] == "cursor" for p in operations.get("get", {}).get("parameters", [])))


LISTS = _list_paths()


def _encoded(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# Garbage, and cursors that decode but do not point into a list (a position that is no id, a
# negative offset, a reverse flag that is no number) — the shapes DRF's own cursors take.
CURSORS = st.one_of(st.text(max_size=40), st.text(max_size=20).map(lambda t: _encoded(f"p={t}")),
                    st.sampled_from([_encoded("o=-1"), _encoded("r=x"), _encoded("p=1&o=abc"), "%%%", "garbage"]))
PAGE_SIZES = st.one_of(st.text(max_size=8), st.integers(min_value=-10, max_value=10_000).map(str))


def test_every_list_is_covered():
    assert "/api/v1/organisations/{org}/documents/" in LISTS and len(LISTS) >= 6, LISTS


@pytest.mark.parametrize("path", LISTS)
def test_paging_parameters_are_the_page_or_a_400_naming_them(path, api, org, settings):
    settings.API_RATE_PER_MINUTE = 100_000
    cache.clear()
    post(api, [invoice("INV-1"), invoice("INV-2")])
    url = path.replace("{org}", org.slug)

    @hsettings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(cursor=st.none() | CURSORS, page_size=st.none() | PAGE_SIZES)
    def run(cursor, page_size):
        query = {k: v for k, v in (("cursor", cursor), ("page_size", page_size)) if v is not None}
        response = api.get(url, query)
        assert response.status_code in (200, 400), (query, response.status_code, response.content[:300])
        if response.status_code == 400:
            assert response["Content-Type"] == PROBLEM
            named = {e["field"] for e in response.json()["errors"]}
            assert named and named <= set(query), (query, named)

    run()


def test_garbage_cursor_on_the_documents_list_is_a_400_naming_cursor(api, org):
    response = api.get(f"/api/v1/organisations/{org.slug}/documents/?cursor=garbage")
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM
    assert [e["field"] for e in response.json()["errors"]] == ["cursor"]


def test_the_next_link_still_pages_and_page_size_is_checked(api, org):
    post(api, [invoice(f"INV-{i}") for i in range(3)])
    url = f"/api/v1/organisations/{org.slug}/documents/"
    first = api.get(url, {"page_size": "2"}).json()
    second = api.get(first["next"]).json()
    assert len(first["results"]) == 2 and len(second["results"]) == 1
    for bad in ("0", "501", "two", "-1"):
        response = api.get(url, {"page_size": bad})
        assert response.status_code == 400 and [e["field"] for e in response.json()["errors"]] == ["page_size"]
    assert len(api.get(url, {"page_size": "500"}).json()["results"]) == 3
