from .connections import ConnectionEvent, ConnectionStatus, PendingAuthorisation, XeroConnection
from .documents import (
    BulkJob,
    DocumentLine,
    DocumentType,
    ExportAttempt,
    ExportRecord,
    ExportState,
    SourceDocument,
)
from .lists import (
    Account,
    Contact,
    Currency,
    ListName,
    ListRefresh,
    ListSyncState,
    TaxRate,
    TrackingCategory,
    TrackingOption,
)
from .mapping import CategoryMapping, HostCategory
from .organisations import ExchangeRate, Membership, Organisation, Role
from .ratelimits import RateBudget
from .signin import SignInGate

__all__ = [
    "Account", "BulkJob", "CategoryMapping", "HostCategory", "ConnectionEvent", "ConnectionStatus", "Contact", "Currency", "DocumentLine",
    "DocumentType", "ExchangeRate", "ExportAttempt", "ExportRecord", "ExportState", "ListName", "ListRefresh",
    "ListSyncState", "Membership", "Organisation", "PendingAuthorisation", "RateBudget", "Role", "SignInGate", "SourceDocument", "TaxRate",
    "TrackingCategory", "TrackingOption", "XeroConnection",
]
