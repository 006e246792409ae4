"""The API's endpoints. Thin doors: each finds the organisation inside what the key reaches
(404 outside) and calls the same services and selectors the pages call. Changes are made as
the key's actor user, whose name is the key's name."""
import hashlib
import json
import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, generics, serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import messages as words
from ..models import (
    Account,
    BulkJob,
    CategoryMapping,
    Contact,
    Currency,
    DocumentType,
    ExportRecord,
    ExportState,
    HostCategory,
    IdempotentRequest,
    Organisation,
    SourceDocument,
    TaxRate,
    TrackingOption,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from ..models.drift import FLAGGED_DRIFT
from ..selectors import mapping as mapping_selectors
from ..selectors.connections import current_connection, lists_tenant_id
from ..selectors.exports import MAX_RANGE_DAYS, job_progress
from ..services import connect_links, exports, webhooks_out
from ..services import mapping as mapping_services
from ..services.document_batches import documents_upsert
from . import serializers as s
from .auth import IsPlatformKey, organisation_for_key, organisations_for_key

log = logging.getLogger("xero.api")
User = get_user_model()
ORG = OpenApiParameter("org", OpenApiTypes.STR, OpenApiParameter.PATH, description="The organisation's slug.")


class Pages(CursorPagination):
    """Every list's pages, by id. `cursor` is only what an answer's `next` / `previous` link
    carries and `page_size` a whole number from 1 to max_page_size: anything else is a 400
    problem naming the parameter (DRF answers a bad cursor 404 and quietly ignores a bad
    page_size, neither of which tells the host what it sent wrong)."""

    ordering = "id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
            if cursor is not None and cursor.position is not None:
                int(cursor.position)  # the last id of a page; filtered on below as an integer
        except (exceptions.NotFound, ValueError):
            raise exceptions.ValidationError({self.cursor_query_param: (
                "This is not a cursor of this list: follow the next or previous link of an answer as it is.")})
        return cursor

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if not 1 <= size <= self.max_page_size:
            raise exceptions.ValidationError({self.page_size_query_param: (
                f"A whole number from 1 to {self.max_page_size}.")})
        return size

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size, default=self.page_size)
            elif parameter["name"] == self.cursor_query_param:
                parameter["description"] = "The next or previous link of an answer carries it; 400 for any other."
        return parameters


class OrganisationScoped:
    """For views under /organisations/{org}/: the organisation, if the key reaches it."""

    def get_organisation(self) -> Organisation:
        if not hasattr(self, "_organisation"):
            self._organisation = organisation_for_key(self.request.auth, self.kwargs["org"])
        return self._organisation


def _row_id(pk: int) -> int:
    """An id from the path; Http404 when no row could have it (beyond 64 bits)."""
    if pk > s.MAX_ID:
        raise Http404("No such id.")
    return pk


def _query(serializer_class, request):
    """Query parameters checked by a serializer: 400 with field errors when wrong."""
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# --- Idempotency-Key ------------------------------------------------------------------------


class IdempotencyConflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "A request with this Idempotency-Key is still being processed; try again shortly."


class IdempotencyMismatch(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = ("This Idempotency-Key was already used with a different request. Use a new key for a new "
                      "request.")


IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
    description="Replays the first answer for 24 hours; the same key with another body answers 422.")


def storable(value):
    """`value` (parsed JSON) with text a database can keep: NUL becomes "\\0" and an unpaired
    surrogate U+FFFD, so an answer that echoes such input can be stored for replay (PostgreSQL's
    jsonb refuses both). Everything else is kept as it is."""
    if isinstance(value, str):
        value = value.replace("\x00", "\\0")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in value)
        return value
    if isinstance(value, list):
        return [storable(v) for v in value]
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    return value


def idempotent(handler):
    """Run `handler` once per (API key, Idempotency-Key): later requests with the same key and
    body get the first answer again (header `Idempotent-Replayed: true`); another body gets 422."""

    def wrapped(self, request, *args, **kwargs):
        key = request.headers.get("Idempotency-Key", "")
        if not key:
            return handler(self, request, *args, **kwargs)
        if len(key) > 255 or not key.isprintable():
            raise exceptions.ValidationError({"Idempotency-Key": "At most 255 printable characters."})
        digest = hashlib.sha256(json.dumps([request.method, request.path, request.data], sort_keys=True,
                                           default=str).encode()).hexdigest()
        api_key = request.auth
        # Answers older than the replay window are forgotten (this key's, so the table stays small).
        IdempotentRequest.objects.filter(
            api_key=api_key, created_at__lt=timezone.now() - timedelta(hours=settings.API_IDEMPOTENCY_HOURS)).delete()
        try:
            with transaction.atomic():
                entry = IdempotentRequest.objects.create(api_key=api_key, key=key, request_hash=digest)
        except IntegrityError:
            entry = IdempotentRequest.objects.filter(api_key=api_key, key=key).first()
            if entry is None:
                raise IdempotencyConflict()
            if entry.request_hash != digest:
                raise IdempotencyMismatch()
            if entry.status_code is None:
                raise IdempotencyConflict()
            response = Response(entry.response_body, status=entry.status_code)
            response["Idempotent-Replayed"] = "true"
            return response
        try:
            response = handler(self, request, *args, **kwargs)
        except Exception:
            entry.delete()
            raise
        if response.status_code >= 500 or response.status_code == 429:
            entry.delete()
        else:
            entry.status_code = response.status_code
            entry.response_body = storable(json.loads(JSONRenderer().render(response.data)))
            entry.save(update_fields=["status_code", "response_body"])
        return response

    return wrapped


# --- organisations --------------------------------------------------------------------------


class OrganisationList(generics.ListCreateAPIView):
    """Organisations this key reaches. Platform keys may create them (with the host's `external_id`)."""

    serializer_class = s.OrganisationSerializer
    pagination_class = Pages

    def get_permissions(self):
        return super().get_permissions() + ([IsPlatformKey()] if self.request.method == "POST" else [])

    @extend_schema(parameters=[OpenApiParameter("external_id", OpenApiTypes.STR, description="The host's id.")])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        qs = organisations_for_key(self.request.auth)
        external_id = self.request.query_params.get("external_id")
        if external_id:
            qs = qs.filter(external_id=external_id)
        return qs

    def perform_create(self, serializer):
        organisation = serializer.save()
        api_key = self.request.auth
        if api_key.organisations.exists():  # a key limited to a set reaches what it creates
            api_key.organisations.add(organisation)
        log.info("xero.api.organisation.created organisation=%s key=%s", organisation.pk, api_key.prefix)


class OrganisationDetail(OrganisationScoped, generics.RetrieveUpdateAPIView):
    """One organisation. Platform keys may change its name, base currency and `external_id`."""

    serializer_class = s.OrganisationSerializer
    http_method_names = ["get", "patch", "head", "options"]

    def get_object(self):
        organisation = self.get_organisation()  # 404 first: a key learns nothing of others
        if self.request.method == "PATCH" and not IsPlatformKey().has_permission(self.request, self):
            raise exceptions.PermissionDenied(IsPlatformKey.message)
        return organisation

    def perform_update(self, serializer):
        organisation = serializer.save()
        log.info("xero.api.organisation.updated organisation=%s key=%s", organisation.pk, self.request.auth.prefix)


# --- connection -----------------------------------------------------------------------------


class ConnectionView(OrganisationScoped, APIView):
    @extend_schema(responses=s.ConnectionSerializer, parameters=[ORG])
    def get(self, request, org):
        """The Xero connection: status in the product's words with the one next step."""
        return Response(s.connection_data(current_connection(organisation=self.get_organisation())))


class ConnectLinkView(OrganisationScoped, APIView):
    @extend_schema(request=s.ConnectLinkInSerializer, responses={201: s.ConnectLinkSerializer}, parameters=[ORG])
    def post(self, request, org):
        """A signed, short-lived link for the organisation's Admin: connect (or reconnect) Xero,
        then back to `return_url`. The Admin signs in to Xero Connect; only Admins may connect."""
        organisation = self.get_organisation()
        data = s.ConnectLinkInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            url, expires_at = connect_links.connect_link_make(organisation=organisation,
                                                             return_url=data.validated_data["return_url"])
        except connect_links.ReturnURLRefused as exc:
            raise exceptions.ValidationError({"return_url": str(exc)})
        return Response({"url": url, "expires_at": expires_at}, status=status.HTTP_201_CREATED)


# --- lists ----------------------------------------------------------------------------------


class UpdatedSince(serializers.Serializer):
    updated_since = serializers.DateTimeField(required=False)


UPDATED_SINCE = OpenApiParameter("updated_since", OpenApiTypes.DATETIME, description=(
    "Only items first seen here, or updated in Xero, at or after this time (ISO 8601)."))


def _list_view(name, model, serializer_class, doc):
    class ListView(OrganisationScoped, generics.ListAPIView):
        __doc__ = doc
        pagination_class = Pages

        def get_serializer_class(self):
            return serializer_class

        def get_queryset(self):
            qs = model.objects.filter(organisation=self.get_organisation())
            if model is TrackingOption:
                qs = qs.select_related("category")
            since = _query(UpdatedSince, self.request).get("updated_since")
            if since:
                qs = qs.filter(Q(first_seen_at__gte=since) | Q(updated_in_xero_at__gte=since))
            return qs

        @extend_schema(parameters=[ORG, UPDATED_SINCE], operation_id=f"lists_{name}")
        def get(self, request, *args, **kwargs):
            return super().get(request, *args, **kwargs)

    ListView.__name__ = ListView.__qualname__ = f"{model.__name__}ListView"
    return ListView.as_view()


LIST_VIEWS = {
    "accounts": _list_view("accounts", Account, s.AccountSerializer, "The chart of accounts."),
    "tax-rates": _list_view("tax_rates", TaxRate, s.TaxRateSerializer, "Tax rates."),
    "contacts": _list_view("contacts", Contact, s.ContactSerializer, "Contacts (customers and suppliers)."),
    "tracking": _list_view("tracking", TrackingOption, s.TrackingOptionSerializer,
                           "Tracking options with their category."),
    "currencies": _list_view("currencies", Currency, s.CurrencySerializer, "Currencies."),
}


# --- documents ------------------------------------------------------------------------------


class DocumentFilters(serializers.Serializer):
    type = serializers.ChoiceField(choices=DocumentType.choices, required=False)
    state = serializers.ChoiceField(choices=ExportState.values, required=False)
    number = serializers.CharField(required=False, max_length=100)
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)
    updated_since = serializers.DateTimeField(required=False)
    drift = serializers.ChoiceField(choices=["changed"], required=False)
    in_xero = serializers.ChoiceField(choices=s.IN_XERO_STATES, required=False)

    def validate(self, attrs):
        if attrs.get("date_from") and attrs.get("date_to") and attrs["date_from"] > attrs["date_to"]:
            raise serializers.ValidationError({"date_to": "date_to is before date_from."})
        return attrs


# Everything a document's answer names, read with the document (no query per document).
DOCUMENT_RELATED = ("export_record__accepted_by", "export_record__replaced_by__document",
                    "export_record__replaces__document", "paid_document")


class DocumentList(OrganisationScoped, generics.ListAPIView):
    serializer_class = s.DocumentSerializer
    pagination_class = Pages

    def get_queryset(self):
        f = _query(DocumentFilters, self.request)
        qs = (SourceDocument.objects.filter(organisation=self.get_organisation())
              .select_related(*DOCUMENT_RELATED))
        if f.get("type"):
            qs = qs.filter(doc_type=f["type"])
        if f.get("state"):
            if f["state"] == ExportState.NOT_EXPORTED:
                qs = qs.filter(Q(export_record__state=f["state"]) | Q(export_record__isnull=True))
            else:
                qs = qs.filter(export_record__state=f["state"])
        if f.get("number"):
            qs = qs.filter(number=f["number"])
        if f.get("date_from"):
            qs = qs.filter(date__gte=f["date_from"])
        if f.get("date_to"):
            qs = qs.filter(date__lte=f["date_to"])
        if f.get("drift"):  # as Export Data's "In Xero → Changed in Xero": voided, deleted or changed
            qs = qs.filter(export_record__xero_drift__in=FLAGGED_DRIFT).exclude(export_record__xero_id="")
        if f.get("in_xero"):
            state = "" if f["in_xero"] == "not_checked" else f["in_xero"]
            qs = qs.filter(export_record__xero_drift=state).exclude(export_record__xero_id="")
        if f.get("updated_since"):
            since = f["updated_since"]
            qs = qs.filter(Q(updated_at__gte=since) | Q(export_record__updated_at__gte=since))
        return qs

    @extend_schema(parameters=[ORG, OpenApiParameter("type", OpenApiTypes.STR, enum=DocumentType.values),
                               OpenApiParameter("state", OpenApiTypes.STR, enum=ExportState.values),
                               OpenApiParameter("number", OpenApiTypes.STR),
                               OpenApiParameter("date_from", OpenApiTypes.DATE),
                               OpenApiParameter("date_to", OpenApiTypes.DATE),
                               OpenApiParameter("updated_since", OpenApiTypes.DATETIME,
                                                description="Documents changed, or whose export state changed, "
                                                            "at or after this time."),
                               OpenApiParameter("drift", OpenApiTypes.STR, enum=["changed"],
                                                description="changed: the documents voided, deleted or changed in "
                                                            "Xero after export (Export Data's \"Changed in Xero\")."),
                               OpenApiParameter("in_xero", OpenApiTypes.STR, enum=s.IN_XERO_STATES,
                                                description="Exported documents in exactly this state in Xero as "
                                                            "last seen (`in_xero.state`).")])
    def get(self, request, *args, **kwargs):
        """Documents with where each stands with Xero; filter, then page with `cursor`."""
        return super().get(request, *args, **kwargs)

    @extend_schema(request=s.DocumentBatchInSerializer, responses=s.DocumentBatchResultSerializer,
                   parameters=[ORG, IDEMPOTENCY_HEADER])
    @idempotent
    def post(self, request, org):
        """Up to 500 documents, each created, updated (before export), unchanged or refused with its
        own errors — never all-or-nothing. Checked exactly as the CSV import checks them."""
        organisation = self.get_organisation()
        body = request.data
        if not isinstance(body, dict) or set(body) != {"documents"}:
            raise exceptions.ValidationError({"documents": "Send {\"documents\": [ … ]}."})
        try:
            results = documents_upsert(organisation=organisation, actor=request.user, elements=body["documents"])
        except ValueError as exc:
            raise exceptions.ValidationError({"documents": str(exc)})
        rows = [r.as_dict() for r in results]
        counts = {k: sum(1 for r in rows if r["result"] == k) for k in ("created", "updated", "unchanged", "refused")}
        return Response({"counts": counts, "results": rows})


class DocumentDetail(OrganisationScoped, generics.RetrieveAPIView):
    """One document with its export attempts and its View-in-Xero link."""

    serializer_class = s.DocumentDetailSerializer

    def get_object(self):
        qs = (SourceDocument.objects.filter(organisation=self.get_organisation())
              .select_related("export_record__connection", "paid_document__export_record", *DOCUMENT_RELATED)
              .prefetch_related("lines"))
        return get_object_or_404(qs, pk=_row_id(self.kwargs["pk"]))


# --- exports --------------------------------------------------------------------------------


class ExportView(OrganisationScoped, APIView):
    @extend_schema(request=s.ExportInSerializer, responses={202: s.JobSerializer},
                   parameters=[ORG, IDEMPOTENCY_HEADER])
    @idempotent
    def post(self, request, org):
        """Export selected documents, a date range, retry the failed ones, or re-export (update in
        Xero). Answers the job to poll at its `Location`."""
        organisation = self.get_organisation()
        data = s.ExportInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        d = data.validated_data
        if d.get("date_from") and d.get("date_to") and (d["date_to"] - d["date_from"]).days > MAX_RANGE_DAYS:
            raise exceptions.ValidationError({"date_to": f"A range covers at most {MAX_RANGE_DAYS} days."})
        actor, action = request.user, d["action"]
        record_ids = None
        if d.get("document_ids"):
            wanted = set(d["document_ids"])
            found = dict(ExportRecord.objects.filter(organisation=organisation, document_id__in=wanted)
                         .values_list("document_id", "pk"))
            missing = sorted(wanted - set(found))
            if missing:
                raise exceptions.ValidationError({"document_ids": f"Not documents of this organisation: "
                                                                  f"{', '.join(map(str, missing[:20]))}."})
            record_ids = list(found.values())
        types = d.get("types") or None
        if action == "selected":
            job = exports.exports_enqueue_selected(organisation=organisation, actor=actor, record_ids=record_ids)
        elif action == "range":
            job = exports.exports_enqueue_range(organisation=organisation, actor=actor, date_from=d["date_from"],
                                                date_to=d["date_to"], doc_types=types)
        elif action == "retry_failed":
            job = exports.exports_retry_failed(organisation=organisation, actor=actor, date_from=d.get("date_from"),
                                               date_to=d.get("date_to"), doc_types=types)
        elif record_ids is not None:
            job = exports.exports_enqueue_selected(organisation=organisation, actor=actor, record_ids=record_ids,
                                                   update_existing=True)
        else:
            job = exports.exports_enqueue_range(organisation=organisation, actor=actor, date_from=d["date_from"],
                                                date_to=d["date_to"], doc_types=types, update_existing=True)
        response = Response(job_progress(job), status=status.HTTP_202_ACCEPTED)
        response["Location"] = request.build_absolute_uri(f"../jobs/{job.pk}/")
        return response


class JobView(OrganisationScoped, APIView):
    @extend_schema(responses=s.JobSerializer, parameters=[ORG])
    def get(self, request, org, pk):
        """An export job's progress."""
        job = get_object_or_404(BulkJob, organisation=self.get_organisation(), pk=_row_id(pk))
        return Response(job_progress(job))


# --- webhooks -------------------------------------------------------------------------------


class WebhookEndpointList(OrganisationScoped, generics.ListAPIView):
    """The organisation's webhook endpoints (platform-wide ones are managed by staff)."""

    serializer_class = s.WebhookEndpointSerializer
    pagination_class = Pages

    def get_queryset(self):
        return WebhookEndpoint.objects.filter(organisation=self.get_organisation())

    @extend_schema(parameters=[ORG])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(request=s.WebhookEndpointInSerializer, responses={201: s.WebhookEndpointCreatedSerializer},
                   parameters=[ORG])
    def post(self, request, org):
        """A new endpoint; the answer carries its signing secret, shown only this once."""
        organisation = self.get_organisation()
        data = s.WebhookEndpointInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        d = data.validated_data
        try:
            endpoint, secret = webhooks_out.endpoint_create(
                organisation=organisation, actor=request.user, url=d["url"], events=d.get("events") or [],
                description=d.get("description", ""))
        except ValueError as exc:
            raise exceptions.ValidationError({"url": str(exc)})
        body = s.WebhookEndpointSerializer(endpoint).data
        body["secret"] = secret
        return Response(body, status=status.HTTP_201_CREATED)


class WebhookEndpointDetail(OrganisationScoped, generics.RetrieveDestroyAPIView):
    serializer_class = s.WebhookEndpointSerializer

    def get_object(self):
        return get_object_or_404(WebhookEndpoint, organisation=self.get_organisation(), pk=_row_id(self.kwargs["pk"]))

    def perform_destroy(self, instance):
        webhooks_out.endpoint_delete(endpoint=instance, actor=self.request.user)


class WebhookDeliveryList(OrganisationScoped, generics.ListAPIView):
    """The organisation's deliveries, newest first in pages; filter by `status` or `event_type`."""

    serializer_class = s.WebhookDeliverySerializer
    pagination_class = Pages

    def get_queryset(self):
        f = _query(DeliveryFilters, self.request)
        qs = WebhookDelivery.objects.filter(endpoint__organisation=self.get_organisation())
        if f.get("status"):
            qs = qs.filter(status=f["status"])
        if f.get("event_type"):
            qs = qs.filter(event_type=f["event_type"])
        return qs

    @extend_schema(parameters=[ORG, OpenApiParameter("status", OpenApiTypes.STR,
                                                     enum=WebhookDelivery.Status.values),
                               OpenApiParameter("event_type", OpenApiTypes.STR, enum=WebhookEvent.values)])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class DeliveryFilters(serializers.Serializer):
    status = serializers.ChoiceField(choices=WebhookDelivery.Status.choices, required=False)
    event_type = serializers.ChoiceField(choices=WebhookEvent.choices, required=False)


class WebhookResendView(OrganisationScoped, APIView):
    @extend_schema(request=None, responses={202: s.WebhookDeliverySerializer}, parameters=[ORG])
    def post(self, request, org, pk):
        """Send a delivery again now (same webhook-id)."""
        delivery = get_object_or_404(WebhookDelivery, endpoint__organisation=self.get_organisation(),
                                     pk=_row_id(pk))
        webhooks_out.webhook_resend(delivery=delivery, actor=request.user)
        delivery.refresh_from_db()
        return Response(s.WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


# --- account mapping (#15) -------------------------------------------------------------------
# Every key (organisation or platform) is Admin-equivalent here, as for the other changes a key
# makes; mapping is saved through services/mapping.py exactly as the mapping page saves it.


class CategoryFilters(serializers.Serializer):
    kind = serializers.ChoiceField(choices=HostCategory.Kind.choices, required=False)
    state = serializers.ChoiceField(choices=s.MAPPING_STATES, required=False)

    def validate(self, attrs):
        """The categories list answers every category at once: a paging parameter is a 400 naming
        it, not silently ignored (the paged lists answer 400 to a bad one too)."""
        sent = [name for name in ("cursor", "page_size") if name in self.initial_data]
        if sent:
            raise serializers.ValidationError({name: "This list is not paged: it answers every category at once."
                                               for name in sent})
        return attrs


def _person(user) -> str:
    return (user.get_full_name() or user.get_username()) if user else ""


def _category_data(row: mapping_selectors.MappingRow) -> dict:
    m = row.mapping
    mapping = None
    if m is not None:
        mapping = {
            "account": s.AccountSerializer(m.account).data if m.account else None,
            "tax_rate": s.TaxRateSerializer(m.tax_rate).data if m.tax_rate else None,
            "tracking_option": s.TrackingOptionSerializer(m.tracking_option).data if m.tracking_option else None,
            "is_suggestion": m.is_suggestion, "problem": m.problem, "confirmed_by": _person(m.confirmed_by),
            "confirmed_at": m.confirmed_at,
        }
    c = row.category
    return {"id": c.pk, "kind": c.kind, "code": c.code, "name": c.name, "state": row.state,
            "state_words": words.MAPPING_STATES[row.state], "documents": row.documents, "mapping": mapping}


class CategoryScoped(OrganisationScoped):
    def get_row(self) -> mapping_selectors.MappingRow:
        """The category `pk` of the organisation with its current mapping and count; 404 otherwise."""
        organisation = self.get_organisation()
        category = get_object_or_404(HostCategory, organisation=organisation, pk=_row_id(self.kwargs["pk"]))
        tenant_id = lists_tenant_id(organisation=organisation)
        mapping = (CategoryMapping.objects.filter(category=category, tenant_id=tenant_id)
                   .select_related("account", "tax_rate", "tracking_option__category", "confirmed_by").first()
                   if tenant_id else None)
        documents = mapping_selectors.document_counts(organisation=organisation).get((category.kind, category.code), 0)
        return mapping_selectors.MappingRow(category, mapping, documents)


class CategoryList(OrganisationScoped, APIView):
    @extend_schema(operation_id="organisations_categories_list", responses=s.HostCategoryListSerializer,
                   parameters=[ORG, OpenApiParameter("kind", OpenApiTypes.STR, enum=HostCategory.Kind.values),
                               OpenApiParameter("state", OpenApiTypes.STR, enum=s.MAPPING_STATES)])
    def get(self, request, org):
        """The host's categories with their mapping for the Xero organisation linked now, their
        state and count of documents, and any suggestion (never used until confirmed). The ones
        needing a person come first, as on the mapping page."""
        organisation = self.get_organisation()
        f = _query(CategoryFilters, request)
        rows = mapping_selectors.mapping_rows(organisation=organisation)
        rows = [r for r in rows if (not f.get("kind") or r.category.kind == f["kind"])
                and (not f.get("state") or r.state == f["state"])]
        people = {u.pk: u for u in User.objects.filter(pk__in={r.mapping.confirmed_by_id for r in rows
                                                               if r.mapping and r.mapping.confirmed_by_id})}
        for r in rows:
            if r.mapping is not None and r.mapping.confirmed_by_id:
                r.mapping.confirmed_by = people.get(r.mapping.confirmed_by_id)
        return Response({"connected": bool(lists_tenant_id(organisation=organisation)),
                         "results": [_category_data(r) for r in rows]})

    @extend_schema(request=s.CategoriesDeclareInSerializer, responses=s.CategoriesDeclaredSerializer,
                   parameters=[ORG])
    def post(self, request, org):
        """Declare host categories up front (up to 500; documents also declare the ones they
        name). New ones get suggestions once Xero is connected; a given `name` replaces the old."""
        organisation = self.get_organisation()
        data = s.CategoriesDeclareInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        counts = mapping_services.categories_declare(organisation=organisation, declared=[
            (c["kind"], c["code"], c["name"]) for c in data.validated_data["categories"]])
        return Response(counts)


class CategoryDetail(CategoryScoped, APIView):
    @extend_schema(responses=s.HostCategoryDetailSerializer, parameters=[ORG])
    def get(self, request, org, pk):
        """One category, its mapping, and what fits it in the Xero organisation linked now: active
        accounts of the right class, tax rates valid for that class, active tracking options."""
        row = self.get_row()
        organisation, kind = row.category.organisation, row.category.kind
        tenant_id = lists_tenant_id(organisation=organisation) or ""
        body = _category_data(row)
        body["choices"] = {
            "accounts": s.AccountSerializer(
                mapping_selectors.account_choices(organisation=organisation, tenant_id=tenant_id, kind=kind)
                if kind in ACCOUNT_KINDS else [], many=True).data,
            "tax_rates": s.TaxRateSerializer(
                mapping_selectors.tax_rate_choices(organisation=organisation, tenant_id=tenant_id, kind=kind)
                if kind in TAX_KINDS else [], many=True).data,
            "tracking_options": s.TrackingOptionSerializer(
                mapping_selectors.tracking_choices(organisation=organisation, tenant_id=tenant_id)
                if kind == HostCategory.Kind.DIMENSION else [], many=True).data,
        }
        return Response(body)


Kind = HostCategory.Kind
ACCOUNT_KINDS = {Kind.SALES, Kind.PURCHASE, Kind.PAYMENT_METHOD}
TAX_KINDS = {Kind.SALES, Kind.PURCHASE, Kind.TAX_CODE}
# Where a refusal of the service lands when it is about the category's main choice.
MAIN_FIELD = {Kind.SALES: "account_id", Kind.PURCHASE: "account_id", Kind.PAYMENT_METHOD: "account_id",
              Kind.TAX_CODE: "tax_type", Kind.DIMENSION: "tracking_option_id"}


class CategoryMappingView(CategoryScoped, APIView):
    @extend_schema(request=s.MappingInSerializer, responses=s.HostCategorySerializer, parameters=[ORG])
    def put(self, request, org, pk):
        """Set (or confirm) what the category means in the Xero organisation linked now, by Xero's
        ids: `account_id` (AccountID) for sales / purchase categories and payment methods,
        optionally `tax_type` for those; `tax_type` for a tax code; `tracking_option_id` for a
        dimension. To confirm a suggestion, PUT its choices. Archived choices, ones of another
        Xero organisation or of the wrong class are refused with field errors. Documents waiting
        as needs_mapping go back in the queue and out by themselves."""
        row = self.get_row()
        category, organisation = row.category, row.category.organisation
        data = s.MappingInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        d = data.validated_data
        tenant_id = lists_tenant_id(organisation=organisation)
        if not tenant_id:
            raise exceptions.ValidationError(words.CONNECT_BEFORE_MAPPING)
        ours = {"organisation": organisation, "tenant_id": tenant_id}
        errors, chosen = {}, {}
        for field, model, lookup, offered in (
                ("account_id", Account, "xero_id", ACCOUNT_KINDS), ("tax_type", TaxRate, "tax_type", TAX_KINDS),
                ("tracking_option_id", TrackingOption, "xero_id", {Kind.DIMENSION})):
            value = (d.get(field) or "").strip()
            if not value:
                chosen[field] = None
                continue
            if category.kind not in offered:
                errors[field] = f"A {category.get_kind_display().lower()} is not mapped to this."
                continue
            chosen[field] = model.objects.filter(**ours, **{lookup: value}).first()
            if chosen[field] is None:
                errors[field] = "Not in the lists of the Xero organisation linked now (see lists/ and choices)."
        if errors:
            raise exceptions.ValidationError(errors)
        try:
            mapping_services.mapping_save(organisation=organisation, actor=request.user, category=category,
                                          account=chosen["account_id"], tax_rate=chosen["tax_type"],
                                          tracking_option=chosen["tracking_option_id"])
        except mapping_services.MappingRefused as exc:
            message = str(exc)
            field = ("tax_type" if message.startswith("The tax rate") and category.kind != Kind.TAX_CODE
                     else MAIN_FIELD[category.kind])
            raise exceptions.ValidationError({field: message})
        log.info("xero.api.mapping.saved organisation=%s category=%s key=%s", organisation.pk, category.pk,
                 request.auth.prefix)
        return Response(_category_data(self.get_row()))


class SuggestionsAcceptView(OrganisationScoped, APIView):
    @extend_schema(request=None, responses=s.SuggestionsAcceptedSerializer, parameters=[ORG])
    def post(self, request, org):
        """Confirm every suggestion at once (one that no longer fits stays a suggestion); the
        documents waiting for them go out by themselves."""
        organisation = self.get_organisation()
        confirmed = mapping_services.mapping_accept_suggestions(organisation=organisation, actor=request.user)
        return Response({"confirmed": confirmed})
