"""Request checks that hold for every page, so no view has to remember them."""
from django.http import HttpResponseBadRequest, JsonResponse
from django.utils.html import escape


class RefuseUnstorableParametersMiddleware:
    """A query-string or form parameter holding a NUL character (``%00``) is answered 400.

    No page has a use for one, and PostgreSQL refuses NUL in text: a search box or a filter
    given ``?q=%00`` answered 500 there. Checked once here, before any view, for GET and
    (form-encoded or multipart) POST parameters, names and values, and uploaded file names.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        bad = self._first_bad(request)
        if bad is not None and request.path.startswith("/api/"):  # the API answers problem details
            from .api.problems import CONTENT_TYPE, problem

            detail = f"The parameter “{bad}” contains a NUL character (%00); remove it."
            return JsonResponse(problem(400, detail, errors=[{"field": bad, "message": detail}]),
                                status=400, content_type=CONTENT_TYPE)
        if bad is not None:
            return HttpResponseBadRequest(
                f"<h1>Bad request</h1><p>The parameter “{escape(bad)}” contains a NUL character (%00), which no "
                f"page accepts. Remove it and try again.</p>", content_type="text/html; charset=utf-8")
        return self.get_response(request)

    @staticmethod
    def _first_bad(request) -> str | None:
        sources = [request.GET]
        if request.method == "POST" and request.content_type in ("application/x-www-form-urlencoded",
                                                                 "multipart/form-data"):
            sources.append(request.POST)
            sources.append({name: f.name for name, f in request.FILES.items()})
        for params in sources:
            items = params.lists() if hasattr(params, "lists") else ((k, [v]) for k, v in params.items())
            for name, values in items:
                if "\x00" in name or any("\x00" in str(v) for v in values):
                    return name.replace("\x00", "\\0")
        return None
