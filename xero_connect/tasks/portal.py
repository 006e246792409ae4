"""django-q2 entry points of the portal: load by id, call one service."""
from ..services.portal import portal_bulk_run


def bulk_job_run(job_id: int) -> None:
    portal_bulk_run(job_id=job_id)
