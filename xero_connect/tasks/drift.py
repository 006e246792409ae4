"""django-q2 entry points for drift (#16): thin, they call one service."""
from ..models import Organisation
from ..services import drift


def webhook_events_process():
    result = drift.webhook_events_process()
    return {"events": result.events, "applied": result.applied, "drift_changed": result.drift_changed,
            "failed": result.failed, "calls": result.calls, "left": result.left}


def reconcile_organisation(organisation_id: int, trigger: str = "portal"):
    organisation = Organisation.objects.filter(pk=organisation_id).first()
    if organisation is None:
        return None
    run = drift.reconcile_organisation(organisation=organisation, trigger=trigger)
    return {"ok": run.ok, "calls": run.calls, "changed": run.changed}


def reconcile_all():
    return [{"organisation": r.organisation_id, "ok": r.ok, "calls": r.calls, "changed": r.changed}
            for r in drift.reconcile_all(trigger="schedule")]
