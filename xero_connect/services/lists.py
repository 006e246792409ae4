"""Lists: imports on (re)connect and Refresh lists. Owned by the lists work (issue 5)."""
from ..models import ListName, ListRefresh


def lists_refresh_enqueue(*, organisation, actor=None, trigger=ListRefresh.Trigger.MANUAL, lists=None) -> ListRefresh:
    return ListRefresh.objects.create(organisation=organisation, actor=actor, trigger=trigger,
                                      lists=list(lists or ListName.values))


def lists_import_on_connect(*, organisation, actor=None) -> ListRefresh:
    """Currencies and account codes, imported automatically after every (re)connect."""
    return lists_refresh_enqueue(organisation=organisation, actor=actor, trigger=ListRefresh.Trigger.CONNECT,
                                 lists=[ListName.CURRENCIES, ListName.ACCOUNTS])
