"""Shapes of the API's answers and of the bodies it takes (also the OpenAPI schema's)."""
from django.utils.text import slugify
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .. import messages as words

from ..models import (
    Account,
    BulkJob,
    Contact,
    Currency,
    DocumentLine,
    DocumentType,
    ExportAttempt,
    ExportRecord,
    ExportState,
    HostCategory,
    Organisation,
    SourceDocument,
    TaxRate,
    TrackingOption,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    XeroDrift,
)
from ..selectors.connections import presentation
from ..selectors.exports import record_link
from ..services.document_batches import MAX_BATCH

MAX_ID = 2**63 - 1  # the largest id a database row can have


class OrganisationSerializer(serializers.ModelSerializer):
    slug = serializers.SlugField(max_length=80, required=False,
                                 help_text="The organisation's address here; made from the name when left out.")
    external_id = serializers.CharField(max_length=100, required=False, allow_null=True,
                                        help_text="The host system's own id for the organisation (unique).")
    base_currency = serializers.RegexField(r"^[A-Z]{3}$", required=False, help_text="3-letter code, e.g. NZD.")

    class Meta:
        model = Organisation
        fields = ["slug", "name", "external_id", "base_currency", "created_at"]
        read_only_fields = ["created_at"]

    def validate_slug(self, value):
        if self.instance is not None and value != self.instance.slug:
            raise serializers.ValidationError("The slug cannot change once the organisation exists.")
        if self.instance is None and Organisation.objects.filter(slug=value).exists():
            raise serializers.ValidationError("Another organisation already has this slug.")
        return value

    def validate_external_id(self, value):
        if value in (None, ""):
            return None
        others = Organisation.objects.filter(external_id=value)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise serializers.ValidationError("Another organisation already has this external_id.")
        return value

    def validate(self, attrs):
        if self.instance is None and not attrs.get("slug"):
            base = slugify(attrs.get("name", ""))[:70] or "organisation"
            slug, n = base, 1
            while Organisation.objects.filter(slug=slug).exists():
                n += 1
                slug = f"{base}-{n}"
            attrs["slug"] = slug
        return attrs


class ConnectionSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["connected", "needs_reconnect", "removed_in_xero", "not_connected"])
    status_words = serializers.CharField(help_text="The status as the pages say it.")
    summary = serializers.CharField()
    next_step = serializers.CharField(help_text="The one thing to do, in the product's words.")
    xero_organisation_name = serializers.CharField(allow_blank=True)
    tenant_id = serializers.CharField(allow_blank=True)
    scopes = serializers.ListField(child=serializers.CharField())
    connected_at = serializers.DateTimeField(allow_null=True)
    last_checked_at = serializers.DateTimeField(allow_null=True)


NEXT_STEPS = {
    "connected": "Nothing to do: exports go out by themselves.",
    "needs_reconnect": "An Admin should reconnect Xero: send them a connect link.",
    "removed_in_xero": "An Admin should reconnect Xero and select the organisation again: send them a connect link.",
    "not_connected": "An Admin should connect Xero: send them a connect link.",
}


def connection_data(connection) -> dict:
    shown = presentation(connection)
    return {
        "status": shown.code, "status_words": shown.words, "summary": shown.summary,
        "next_step": NEXT_STEPS[shown.code],
        "xero_organisation_name": connection.tenant_name if connection else "",
        "tenant_id": connection.tenant_id if connection else "",
        "scopes": (connection.scopes or "").split() if connection else [],
        "connected_at": connection.connected_at if connection else None,
        "last_checked_at": connection.last_health_check_at if connection else None,
    }


class ConnectLinkInSerializer(serializers.Serializer):
    return_url = serializers.URLField(max_length=2000, help_text="Where the Admin returns after connecting; its "
                                                                 "host must be on API_CONNECT_RETURN_HOSTS.")


class ConnectLinkSerializer(serializers.Serializer):
    url = serializers.URLField()
    expires_at = serializers.DateTimeField()


# --- lists -----------------------------------------------------------------------------------

_LIST_COMMON = ["is_active", "status", "updated_in_xero_at", "first_seen_at", "last_seen_at"]


class AccountSerializer(serializers.ModelSerializer):
    class Meta:
        model = Account
        fields = ["xero_id", "code", "name", "type", "account_class", "tax_type", "currency_code",
                  "enable_payments"] + _LIST_COMMON


class ContactSerializer(serializers.ModelSerializer):
    class Meta:
        model = Contact
        fields = ["xero_id", "name", "email", "is_supplier", "is_customer", "default_currency"] + _LIST_COMMON


class TaxRateSerializer(serializers.ModelSerializer):
    class Meta:
        model = TaxRate
        fields = ["tax_type", "name", "effective_rate"] + _LIST_COMMON


class TrackingOptionSerializer(serializers.ModelSerializer):
    category = serializers.CharField(source="category.name")
    category_xero_id = serializers.CharField(source="category.xero_id")
    category_is_active = serializers.BooleanField(source="category.is_active")

    class Meta:
        model = TrackingOption
        fields = ["category", "category_xero_id", "category_is_active", "xero_id", "name"] + _LIST_COMMON


class CurrencySerializer(serializers.ModelSerializer):
    class Meta:
        model = Currency
        fields = ["code", "description"] + _LIST_COMMON


# --- documents -----------------------------------------------------------------------------


class TrackingInSerializer(serializers.Serializer):
    category = serializers.CharField()
    option = serializers.CharField()


class LineInSerializer(serializers.Serializer):
    """Only for the schema: elements are checked by the CSV import's parser, element by element."""
    description = serializers.CharField(required=False)
    quantity = serializers.DecimalField(max_digits=18, decimal_places=4, required=False, coerce_to_string=False)
    unit_amount = serializers.DecimalField(max_digits=18, decimal_places=4, required=False, coerce_to_string=False)
    line_amount = serializers.DecimalField(max_digits=18, decimal_places=2, required=False, coerce_to_string=False,
                                           help_text="Manual journals: debit positive, credit negative.")
    account_code = serializers.CharField(required=False)
    tax_type = serializers.CharField(required=False)
    category = serializers.CharField(required=False, help_text="Your own sales or purchase category, instead of "
                                                               "account_code (mapped at export: see categories/).")
    tax_code = serializers.CharField(required=False, help_text="Your own tax code, instead of tax_type.")
    dimension = serializers.CharField(required=False, help_text="Your own dimension (→ a tracking option).")
    tracking = TrackingInSerializer(many=True, required=False)


class DocumentInSerializer(serializers.Serializer):
    """One document, with the CSV import's columns as fields (see the README's column table)."""
    type = serializers.ChoiceField(choices=DocumentType.choices)
    number = serializers.CharField()
    date = serializers.DateField()
    due_date = serializers.DateField(required=False)
    contact = serializers.CharField(required=False)
    reference = serializers.CharField(required=False)
    currency = serializers.CharField(required=False)
    line_amount_types = serializers.ChoiceField(choices=["Exclusive", "Inclusive", "NoTax"], required=False)
    narration = serializers.CharField(required=False)
    paid_number = serializers.CharField(required=False)
    paid_type = serializers.ChoiceField(choices=[DocumentType.SALES_INVOICE, DocumentType.BILL], required=False)
    payment_account = serializers.CharField(required=False)
    payment_method = serializers.CharField(required=False, help_text="Payments: your own payment method, instead "
                                                                     "of payment_account.")
    amount = serializers.DecimalField(max_digits=18, decimal_places=2, required=False, coerce_to_string=False)
    lines = LineInSerializer(many=True, required=False)


class DocumentBatchInSerializer(serializers.Serializer):
    documents = DocumentInSerializer(many=True, max_length=MAX_BATCH)


class FieldErrorSerializer(serializers.Serializer):
    field = serializers.CharField(allow_blank=True, help_text="e.g. `lines[1].unit_amount`; empty for the "
                                                              "document as a whole.")
    message = serializers.CharField()


class ElementResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    type = serializers.CharField(allow_blank=True)
    number = serializers.CharField(allow_blank=True)
    result = serializers.ChoiceField(choices=["created", "updated", "unchanged", "refused"])
    id = serializers.IntegerField(allow_null=True)
    errors = FieldErrorSerializer(many=True)


class DocumentBatchResultSerializer(serializers.Serializer):
    counts = serializers.DictField(child=serializers.IntegerField())
    results = ElementResultSerializer(many=True)


class LineSerializer(serializers.ModelSerializer):
    class Meta:
        model = DocumentLine
        fields = ["description", "quantity", "unit_amount", "line_amount", "account_code", "tax_type", "tracking"]


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = ExportAttempt
        fields = ["started_at", "finished_at", "outcome", "messages", "http_status"]


# The drift states as the API names them: XeroDrift's values, with "not_checked" for its empty one.
IN_XERO_STATES = ["not_checked"] + [v for v in XeroDrift.values if v]


class InXeroSerializer(serializers.ModelSerializer):
    """An exported document's state in Xero as last seen (#16's drift), in the ledger's words."""
    state = serializers.SerializerMethodField()
    state_words = serializers.SerializerMethodField(help_text="As the ledger's In Xero column says it.")
    detail = serializers.SerializerMethodField(help_text="Total when sent → in Xero now, or paid and due; "
                                                         "empty otherwise.")
    total_before = serializers.DecimalField(source="drift_total_before", max_digits=14, decimal_places=2,
                                            allow_null=True, help_text="Changed: the Total Xero had when sent "
                                                                       "(or as accepted).")
    total_after = serializers.DecimalField(source="drift_total_after", max_digits=14, decimal_places=2,
                                           allow_null=True, help_text="Changed: Xero's Total now.")
    amount_paid = serializers.DecimalField(source="xero_amount_paid", max_digits=14, decimal_places=2,
                                           allow_null=True, help_text="Xero's AmountPaid as last seen.")
    amount_due = serializers.DecimalField(source="xero_amount_due", max_digits=14, decimal_places=2,
                                          allow_null=True, help_text="Xero's AmountDue (credit notes: "
                                                                     "RemainingCredit) as last seen.")
    last_seen_at = serializers.DateTimeField(source="xero_seen_at", allow_null=True,
                                             help_text="When we last read it from Xero.")
    updated_in_xero_at = serializers.DateTimeField(source="xero_updated_at", allow_null=True,
                                                   help_text="Xero's UpdatedDateUTC of what we last applied.")
    accepted_by = serializers.SerializerMethodField(help_text="Who accepted Xero's version; empty when nobody.")
    accepted_note = serializers.CharField(source="drift_note", help_text="What changed, who accepted it, when.")

    class Meta:
        model = ExportRecord
        fields = ["state", "state_words", "detail", "xero_status", "total_before", "total_after", "amount_paid",
                  "amount_due", "last_seen_at", "updated_in_xero_at", "accepted_at", "accepted_by",
                  "accepted_status", "accepted_total", "accepted_note"]
        read_only_fields = fields  # an answer only: every field is always there

    @extend_schema_field(serializers.ChoiceField(choices=IN_XERO_STATES))
    def get_state(self, record) -> str:
        return record.xero_drift or "not_checked"

    def get_state_words(self, record) -> str:
        return words.drift_name(record.xero_drift)

    def get_detail(self, record) -> str:
        return words.drift_detail(drift=record.xero_drift, before=record.drift_total_before,
                                  after=record.drift_total_after, paid=record.xero_amount_paid,
                                  due=record.xero_amount_due)

    def get_accepted_by(self, record) -> str:
        user = record.accepted_by if record.accepted_by_id else None
        return (user.get_full_name() or user.get_username()) if user is not None else ""


class DocumentRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    type = serializers.CharField()
    number = serializers.CharField()


def _document_ref(record) -> dict | None:
    if record is None:
        return None
    return {"id": record.document_id, "type": record.doc_type, "number": record.document.number}


class DocumentSerializer(serializers.ModelSerializer):
    type = serializers.CharField(source="doc_type")
    contact = serializers.CharField(source="contact_name")
    currency = serializers.CharField(source="currency_code")
    paid_number = serializers.SerializerMethodField()
    state = serializers.SerializerMethodField()
    state_words = serializers.SerializerMethodField()
    xero_id = serializers.SerializerMethodField()
    last_error = serializers.SerializerMethodField()
    exported_at = serializers.SerializerMethodField()
    in_xero = serializers.SerializerMethodField(help_text="Once in Xero: its state there as last seen "
                                                          "(paid, changed, voided, deleted…); null before.")
    replaced_by = serializers.SerializerMethodField(help_text="The document sent to Xero in place of this "
                                                              "voided or deleted one (Re-export as a new document).")
    replaces = serializers.SerializerMethodField(help_text="The voided or deleted document this one replaces.")

    class Meta:
        model = SourceDocument
        fields = ["id", "type", "number", "date", "due_date", "contact", "reference", "currency",
                  "line_amount_types", "total", "narration", "paid_number", "payment_account_code", "state",
                  "state_words", "xero_id", "last_error", "exported_at", "in_xero", "replaced_by", "replaces",
                  "created_at", "updated_at"]

    def _record(self, doc):
        return getattr(doc, "export_record", None)

    def get_paid_number(self, doc) -> str:
        return doc.paid_document.number if doc.paid_document_id else ""

    def get_state(self, doc) -> str:
        record = self._record(doc)
        return record.state if record else ExportState.NOT_EXPORTED

    def get_state_words(self, doc) -> str:
        record = self._record(doc)
        return record.get_state_display() if record else ExportState.NOT_EXPORTED.label

    def get_xero_id(self, doc) -> str:
        record = self._record(doc)
        return record.xero_id if record else ""

    def get_last_error(self, doc) -> str:
        record = self._record(doc)
        return record.last_error if record else ""

    def get_exported_at(self, doc) -> str | None:
        record = self._record(doc)
        return record.exported_at.isoformat() if record and record.exported_at else None

    @extend_schema_field(InXeroSerializer(allow_null=True))
    def get_in_xero(self, doc):
        record = self._record(doc)
        if record is None or not record.xero_id:  # never in Xero: nothing to have changed there
            return None
        return InXeroSerializer(record).data

    @extend_schema_field(DocumentRefSerializer(allow_null=True))
    def get_replaced_by(self, doc):
        record = self._record(doc)
        return _document_ref(record.replaced_by) if record and record.replaced_by_id else None

    @extend_schema_field(DocumentRefSerializer(allow_null=True))
    def get_replaces(self, doc):
        record = self._record(doc)
        return _document_ref(getattr(record, "replaces", None)) if record else None


class DocumentDetailSerializer(DocumentSerializer):
    lines = LineSerializer(many=True)
    attempts = serializers.SerializerMethodField()
    view_in_xero = serializers.SerializerMethodField()

    class Meta(DocumentSerializer.Meta):
        fields = DocumentSerializer.Meta.fields + ["lines", "attempts", "view_in_xero"]

    def get_attempts(self, doc) -> list[dict]:
        record = self._record(doc)
        return AttemptSerializer(record.attempts.all()[:50], many=True).data if record else []

    def get_view_in_xero(self, doc) -> str:
        record = self._record(doc)
        return record_link(record) if record else ""


# --- exports --------------------------------------------------------------------------------


class ExportInSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=["selected", "range", "retry_failed", "reexport"],
                                     help_text="selected: the documents in `document_ids`; range: everything not "
                                               "yet exported between the dates; retry_failed: the failed ones (in "
                                               "the range when given); reexport: update `document_ids` (or the "
                                               "range) in Xero.")
    document_ids = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=MAX_ID), required=False,
                                         max_length=10_000)
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)
    types = serializers.ListField(child=serializers.ChoiceField(choices=DocumentType.choices), required=False,
                                  max_length=6)

    def validate(self, attrs):
        action = attrs["action"]
        if action == "selected" and not attrs.get("document_ids"):
            raise serializers.ValidationError({"document_ids": "Name the documents to export."})
        if action == "range" and not (attrs.get("date_from") and attrs.get("date_to")):
            raise serializers.ValidationError({"date_from": "A range needs date_from and date_to."})
        if action == "reexport" and not (attrs.get("document_ids") or (attrs.get("date_from")
                                                                        and attrs.get("date_to"))):
            raise serializers.ValidationError({"document_ids": "Name the documents, or give date_from and date_to."})
        if attrs.get("date_from") and attrs.get("date_to") and attrs["date_from"] > attrs["date_to"]:
            raise serializers.ValidationError({"date_to": "date_to is before date_from."})
        return attrs


class JobSerializer(serializers.Serializer):
    """A job's progress, as the Export Data page's progress bar shows it (selectors.exports.job_progress)."""
    id = serializers.IntegerField()
    kind = serializers.CharField()
    status = serializers.ChoiceField(choices=BulkJob.Status.values)
    status_words = serializers.CharField()
    total = serializers.IntegerField()
    done = serializers.IntegerField()
    failed = serializers.IntegerField()
    waiting = serializers.IntegerField()
    pending = serializers.IntegerField()
    skipped = serializers.IntegerField()
    percent = serializers.IntegerField()
    finished = serializers.BooleanField()
    summary = serializers.CharField(allow_blank=True)


# --- webhooks -------------------------------------------------------------------------------


class WebhookEndpointInSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=2000)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    events = serializers.ListField(child=serializers.ChoiceField(choices=WebhookEvent.choices), required=False,
                                   max_length=len(WebhookEvent.choices), help_text="Empty or left out: every event.")


class WebhookEndpointSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "description", "events", "is_active", "disabled_reason", "failing_since",
                  "created_at"]


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(help_text="The signing secret (whsec_…): shown only in this answer.")

    class Meta(WebhookEndpointSerializer.Meta):
        fields = WebhookEndpointSerializer.Meta.fields + ["secret"]


class WebhookDeliverySerializer(serializers.ModelSerializer):
    endpoint = serializers.IntegerField(source="endpoint_id")

    class Meta:
        model = WebhookDelivery
        fields = ["id", "endpoint", "message_id", "event_type", "status", "attempts", "last_status_code",
                  "last_error", "next_attempt_at", "delivered_at", "created_at", "payload"]


# --- account mapping (#15) -------------------------------------------------------------------

MAPPING_STATES = ["unmapped", "suggested", "flagged", "mapped"]
MAX_CATEGORIES = 500


class MappingSerializer(serializers.Serializer):
    """What a host category means in the Xero organisation linked now."""

    account = AccountSerializer(allow_null=True, help_text="Sales / purchase category or payment method.")
    tax_rate = TaxRateSerializer(allow_null=True, help_text="Tax code; for a sales or purchase category, the "
                                                            "tax rate used when a line names none.")
    tracking_option = TrackingOptionSerializer(allow_null=True, help_text="Dimension.")
    is_suggestion = serializers.BooleanField(help_text="A suggested default: never used for an export until "
                                                       "confirmed (PUT the same choices, or accept-suggestions).")
    problem = serializers.CharField(allow_blank=True, help_text="Why the chart no longer fits (archived or "
                                                                "deleted in Xero); empty when fine.")
    confirmed_by = serializers.CharField(allow_blank=True, help_text="Who confirmed it (a key's name for a key).")
    confirmed_at = serializers.DateTimeField(allow_null=True)


class HostCategorySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=HostCategory.Kind.choices)
    code = serializers.CharField(help_text="The host system's own code, verbatim.")
    name = serializers.CharField(allow_blank=True)
    state = serializers.ChoiceField(choices=MAPPING_STATES, help_text=(
        "unmapped (documents naming it wait as needs_mapping), suggested (a default waits for confirmation), "
        "flagged (the chart changed under it), mapped."))
    state_words = serializers.CharField(help_text="The state as the mapping page says it.")
    documents = serializers.IntegerField(help_text="How many documents name this category.")
    mapping = MappingSerializer(allow_null=True)


class HostCategoryListSerializer(serializers.Serializer):
    connected = serializers.BooleanField(help_text="False before Xero was ever connected: nothing can be mapped.")
    results = HostCategorySerializer(many=True, help_text="Those needing a person first (flagged, unmapped, "
                                                          "suggested), then by kind and code.")


class ChoicesSerializer(serializers.Serializer):
    accounts = AccountSerializer(many=True, help_text="Active accounts of a fitting class (revenue for sales, "
                                                      "expense / direct costs for purchases, bank or payments "
                                                      "enabled for payment methods).")
    tax_rates = TaxRateSerializer(many=True, help_text="Active tax rates valid for that account class.")
    tracking_options = TrackingOptionSerializer(many=True, help_text="Active options (dimensions only).")


class HostCategoryDetailSerializer(HostCategorySerializer):
    choices = ChoicesSerializer(help_text="What fits this category in the Xero organisation linked now.")


class HostCategoryInSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=HostCategory.Kind.choices)
    code = serializers.CharField(max_length=100, help_text="The host's own code (e.g. COFFEE-WHOLESALE).")
    name = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class CategoriesDeclareInSerializer(serializers.Serializer):
    categories = HostCategoryInSerializer(many=True, allow_empty=False, max_length=MAX_CATEGORIES)

    def validate_categories(self, value):
        seen, errors = set(), []
        for item in value:
            key = (item["kind"], item["code"])
            errors.append({"code": ["Declared twice in this request."]} if key in seen else {})
            seen.add(key)
        if any(errors):
            raise serializers.ValidationError(errors)
        return value


class CategoriesDeclaredSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    renamed = serializers.IntegerField()
    unchanged = serializers.IntegerField()


class MappingInSerializer(serializers.Serializer):
    """Choices by Xero's own ids in the Xero organisation linked now (as the lists endpoints give them)."""

    account_id = serializers.CharField(max_length=64, required=False, allow_null=True, allow_blank=True,
                                       help_text="Xero's AccountID (sales / purchase category, payment method).")
    tax_type = serializers.CharField(max_length=50, required=False, allow_null=True, allow_blank=True,
                                     help_text="Xero's TaxType (tax code; optional for sales / purchase).")
    tracking_option_id = serializers.CharField(max_length=64, required=False, allow_null=True, allow_blank=True,
                                               help_text="Xero's TrackingOptionID (dimension).")


class SuggestionsAcceptedSerializer(serializers.Serializer):
    confirmed = serializers.IntegerField(help_text="How many suggestions were confirmed.")
