"""Exports and the export queue. Owned by the export work (issue 6)."""
from ..models import ExportRecord, ExportState


def exports_release_waiting(*, organisation, actor=None) -> int:
    """After a (re)connect: items waiting for the connection go back in the queue."""
    return ExportRecord.objects.filter(organisation=organisation, state=ExportState.WAITING_FOR_CONNECTION).update(
        state=ExportState.QUEUED)
