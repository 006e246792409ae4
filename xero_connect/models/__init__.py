from .api import APIKey, IdempotentRequest
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
from .drift import FLAGGED_DRIFT, ReconciliationRun, XeroDrift, XeroWebhookEvent
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
from .webhooks import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent

__all__ = [
    "APIKey", "IdempotentRequest", "WebhookAttempt", "WebhookDelivery", "WebhookEndpoint", "WebhookEvent",
    "Account", "BulkJob", "CategoryMapping", "HostCategory", "ConnectionEvent", "ConnectionStatus", "Contact", "Currency", "DocumentLine",
    "DocumentType", "ExchangeRate", "ExportAttempt", "ExportRecord", "ExportState", "ListName", "ListRefresh",
    "ListSyncState", "Membership", "Organisation", "PendingAuthorisation", "RateBudget", "Role", "SignInGate", "SourceDocument", "TaxRate",
    "TrackingCategory", "TrackingOption", "XeroConnection",
    "FLAGGED_DRIFT", "ReconciliationRun", "XeroDrift", "XeroWebhookEvent",
]
