"""The periodic sweeper: nothing stays stuck if a task was lost or a worker died."""
import logging

from django.db import transaction
from django.utils import timezone

from ...models import ExportRecord, ExportState, Organisation
from ...selectors.connections import current_connection
from ..xero_access import connection_usable
from .enqueue import due_filter, exports_release_waiting, kick_drains, organisations_with
from .claims import exports_recover_stale
from .jobs import jobs_finish_stranded

log = logging.getLogger("xero.exports")


def exports_sweep() -> int:
    """Recover stale claims, finish export jobs left running with nothing to send, release
    waiting items whose connection works again, and start a drain for every organisation with
    due queued items. Returns how many drains it started."""
    exports_recover_stale()
    jobs_finish_stranded()
    now = timezone.now()
    started = 0
    waiting_orgs = organisations_with(ExportRecord.objects.filter(state=ExportState.WAITING_FOR_CONNECTION))
    for org in Organisation.objects.filter(pk__in=waiting_orgs):
        if connection_usable(current_connection(organisation=org)):
            exports_release_waiting(organisation=org)
    for org_id in organisations_with(ExportRecord.objects.filter(state=ExportState.QUEUED).filter(due_filter(now))):
        with transaction.atomic():
            kick_drains(organisation_id=org_id, queued=1)
        started += 1
    log.info("xero.exports.sweep drains=%s", started)
    return started
