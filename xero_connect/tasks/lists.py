"""django-q2 entry points for lists: load by id, call one service."""
from ..services.lists import lists_refresh_run


def run_refresh(refresh_id: int) -> str:
    refresh = lists_refresh_run(refresh_id=refresh_id)
    return refresh.status
