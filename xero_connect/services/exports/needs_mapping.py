"""Pre-flight's mapping gate (#15): documents that name the host's own categories are resolved
to the Xero organisation's codes before a send, or wait as "Needs mapping" — the same way items
wait for the connection (outcomes.park_waiting), released by exports_release_needs_mapping."""
from ...models import ExportAttempt, ExportRecord, ExportState
from ...selectors.mapping import documents_resolve


def park_needs_mapping(records: list[ExportRecord], *, organisation_id: int, tenant_id: str,
                       result, park) -> list[ExportRecord]:
    """Host categories → Xero codes (selectors.mapping, a constant number of queries). The
    resolved codes are set on the prefetched lines in memory (never saved: the document keeps
    the host's category, and the next export resolves it again). Items naming a category that is
    not mapped for `tenant_id`, or whose mapping broke, wait as "Needs mapping" — no call to
    Xero — and the rest are returned. `park` is outcomes.park_waiting (passed in: this module sits
    below the export rooms that call it)."""
    resolved = documents_resolve(documents=[r.document for r in records],
                                 tenant_of={organisation_id: tenant_id})
    waiting, rest = [], []
    for r in records:
        res = resolved.get(r.document.pk)
        if res is None or (r.xero_id and r.tenant_id and r.tenant_id != tenant_id):  # written to another Xero org
            rest.append(r)
            continue
        if res.needs_mapping:
            r.state = ExportState.NEEDS_MAPPING
            waiting.append((r, res.needs_mapping))
            continue
        for line in r.document.lines.all():
            values = res.lines.get(line.pk, {})
            if "tracking" in values:
                values = {**values, "tracking": list(line.tracking or []) + values["tracking"]}
            for name, value in values.items():
                setattr(line, name, value)
        if res.payment_account_code:
            r.document.payment_account_code = res.payment_account_code
        rest.append(r)
    by_reason: dict[str, list] = {}
    for r, reasons in waiting:
        by_reason.setdefault(" ".join(reasons), []).append(r)
    for reason, group in by_reason.items():
        result.waiting += park(organisation_id=organisation_id, reason=reason, records=group,
                                       state=ExportState.NEEDS_MAPPING,
                                       outcome=ExportAttempt.Outcome.PREFLIGHT_FAILED)
    return rest
