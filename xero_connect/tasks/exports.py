"""django-q2 entry points of the export queue: thin, they call one service."""
from ..services import exports


def export_drain(organisation_id: int):
    result = exports.exports_drain(organisation_id=organisation_id)
    return {"calls": result.calls, "exported": result.exported, "failed": result.failed,
            "rescheduled": result.rescheduled, "waiting": result.waiting}


def export_sweep():
    return exports.exports_sweep()
