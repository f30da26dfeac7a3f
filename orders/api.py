"""Orders API: intake (JSON, Shopify webhook, CSV), reads, cancel, hold release. Thin views over services."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import django_filters
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound, ParseError
from rest_framework.exceptions import ValidationError as DrfValidationError
from rest_framework.pagination import BasePagination, CursorPagination
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api import AwareDateTimeField, AwareUtcIsoDateTimeFilter, FieldsCopiedSerializer, UtcIsoDateTimeFilter
from common.parsers import GuardedJSONParser, json_body_load
from common.query import StrictPageNumberPagination
from common.roles import API_CLIENT, OPERATIONS, HasRole
from common.security import WebhookThrottle
from inventory.models import Location
from orders.csv_orders import CsvOrderErrors
from orders.inputs import CustomerIn, LineIn, OrderIn
from orders.models import Channel, ChannelOrderUpdate, Order, OrderHold
from orders.selectors import channel_for_client, channel_webhook_signature_valid, order_detail, order_list
from orders.services import (
    OrderChangeConflict,
    OrderChangeResult,
    OrderVersionStale,
    channel_order_update_receive,
    order_address_change,
    order_csv_import,
    order_hold_release,
    order_ingest,
    order_input_errors,
    order_line_add,
    order_line_quantity_set,
    order_line_remove,
    order_method_change,
    order_units_cancel,
)
from orders.shopify import (
    PAYMENT_STATUS,
    UPDATE_TOPICS,
    ShopifyPayloadError,
    shopify_order_input,
    shopify_order_update_input,
)

ORDER_ROLES = (API_CLIENT, OPERATIONS)
# The limits every door shares (orders.services.OrderLimits); the serializer states them for the schema.
MAX_LINES = settings.DOM.get("ORDER_MAX_LINES", 500)
MAX_QUANTITY = settings.DOM.get("ORDER_MAX_QUANTITY", 100_000)
MAX_AMOUNT = Decimal(str(settings.DOM.get("ORDER_MAX_AMOUNT", "1000000000")))


def _request_channel(request, code: str | None) -> tuple[Channel | None, list[str]]:
    """The channel a request acts for, or the reasons it cannot: API clients act only for their own."""
    bound = channel_for_client(user=request.user)
    if bound is not None:
        if code and code != bound.code:
            return None, [f"This API client may only create orders for channel {bound.code!r}, not {code!r}."]
        return bound, []
    if not code:
        return None, ['Name the channel, e.g. "web".']
    channel = Channel.objects.filter(code=code, is_active=True).first()
    if channel is None:
        return None, [f"Unknown or inactive channel {code!r}."]
    return channel, []


def _visible_order(request, pk: int) -> Order:
    """An order the caller may see: API clients only their channel's (404 otherwise)."""
    try:
        return order_detail(pk=pk, channel=channel_for_client(user=request.user))
    except Order.DoesNotExist as exc:
        raise Http404(f"No order {pk}.") from exc


def _errors_in_line_order(errors: dict, body) -> dict:
    """DRF reports nested-list errors as {index: {...}}; the API promises a list in line order."""
    lines = errors.get("lines")
    if isinstance(lines, dict) and not all(isinstance(k, int) for k in lines):
        # About the list itself (e.g. empty): {"non_field_errors": [...]} becomes the plain messages.
        errors["lines"] = [msg for msgs in lines.values() for msg in msgs]
    elif isinstance(lines, dict):
        n = len(body.get("lines") or []) if isinstance(body, dict) else 0
        errors["lines"] = [lines.get(i, {}) for i in range(max(n, max(lines) + 1))]
    return errors


# --- Output ---------------------------------------------------------------------------------------------
class OrderLineOut(serializers.Serializer):
    id = serializers.IntegerField()
    line_number = serializers.IntegerField()
    sku = serializers.CharField()
    name = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price = serializers.DecimalField(max_digits=12, decimal_places=2)
    quantity_allocated = serializers.IntegerField()
    quantity_shipped = serializers.IntegerField()
    quantity_cancelled = serializers.IntegerField()
    quantity_returned = serializers.IntegerField()


class OrderHoldOut(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()
    released_at = serializers.DateTimeField(allow_null=True)
    resolution = serializers.CharField()
    note = serializers.CharField()


class OrderEventOut(serializers.Serializer):
    type = serializers.CharField()
    message = serializers.CharField()
    data = serializers.JSONField()
    actor = serializers.CharField(source="actor.username", default=None, allow_null=True)  # null: the system
    created_at = serializers.DateTimeField()


class OrderFulfillmentLineOut(serializers.Serializer):
    order_line = serializers.IntegerField(source="order_line_id")
    sku = serializers.CharField(source="order_line.sku")
    quantity = serializers.IntegerField()
    quantity_shipped = serializers.IntegerField()


class OrderFulfillmentOrderOut(serializers.Serializer):
    id = serializers.IntegerField()
    location = serializers.CharField(source="location.code")
    method = serializers.CharField()
    status = serializers.CharField()
    ship_by = serializers.DateTimeField(allow_null=True)
    lines = OrderFulfillmentLineOut(many=True)


class OrderCustomerOut(serializers.Serializer):
    email = serializers.EmailField()
    name = serializers.CharField()
    loyalty_tier = serializers.CharField()


class OrderSummaryOut(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    channel = serializers.CharField(source="channel.code")
    external_id = serializers.CharField()
    status = serializers.CharField()
    placed_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    fulfillment_method = serializers.CharField()
    service_level = serializers.CharField()
    priority = serializers.IntegerField()
    total = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.CharField()


class OrderOut(OrderSummaryOut):
    version = serializers.IntegerField(help_text="Changes with every change to the order; the ETag.")
    customer = OrderCustomerOut(allow_null=True)
    shipping_address = serializers.JSONField()
    billing_address = serializers.JSONField()
    pickup_location = serializers.CharField(source="pickup_location.code", default=None, allow_null=True)
    promised_delivery_date = serializers.DateField(allow_null=True)
    ship_by = serializers.DateTimeField(allow_null=True)
    payment_status = serializers.CharField()
    fraud_score = serializers.IntegerField()
    fraud_reasons = serializers.JSONField()
    subtotal = serializers.DecimalField(max_digits=12, decimal_places=2)
    shipping_total = serializers.DecimalField(max_digits=12, decimal_places=2)
    tax_total = serializers.DecimalField(max_digits=12, decimal_places=2)
    cancel_reason = serializers.CharField()
    lines = OrderLineOut(many=True)
    holds = OrderHoldOut(many=True)
    timeline = OrderEventOut(many=True, source="events")
    fulfillment_orders = OrderFulfillmentOrderOut(many=True)


class OrderIngestOut(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    status = serializers.CharField()
    external_id = serializers.CharField()
    channel = serializers.CharField()
    created = serializers.BooleanField()


def _ingest_body(order: Order, created: bool) -> dict:
    return {
        "id": order.pk,
        "number": order.number,
        "status": order.status,
        "external_id": order.external_id,
        "channel": order.channel.code,
        "created": created,
    }


# --- Intake and list ------------------------------------------------------------------------------------
class OrderFilter(django_filters.FilterSet):
    placed_after = UtcIsoDateTimeFilter(field_name="placed_at", lookup_expr="gte")
    placed_before = UtcIsoDateTimeFilter(field_name="placed_at", lookup_expr="lt")
    updated_since = AwareUtcIsoDateTimeFilter(
        field_name="updated_at",
        lookup_expr="gte",
        help_text="Orders changed at or after this time (ISO 8601 with an offset); switches to cursor pages.",
    )

    class Meta:
        model = Order
        fields = ["status", "fulfillment_method", "service_level", "external_id", "number"]


class OrderChangesPagination(CursorPagination):
    """Cursor pages over (updated_at, id), oldest change first: a client that follows `next` sees every
    order once per change. Orders changed in the last DOM["ORDERS_API_SETTLE_SECONDS"] are not listed yet,
    so a change whose transaction commits late (with an earlier `updated_at`) is not skipped."""

    ordering = ("updated_at", "id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def paginate_queryset(self, queryset, request, view=None):
        settle = settings.DOM.get("ORDERS_API_SETTLE_SECONDS", 5)
        queryset = queryset.filter(updated_at__lte=timezone.now() - timedelta(seconds=settle))
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound as exc:
            raise DrfValidationError({"cursor": ["Invalid cursor: use the `next` link of the previous page."]}) from exc


class OrderListPagination(BasePagination):
    """Page numbers (newest placed first) by default; `updated_since` or `cursor` switches to cursor pages
    over (updated_at, id) for polling clients (OrderChangesPagination)."""

    def __init__(self) -> None:
        self.pages, self.cursor = StrictPageNumberPagination(), OrderChangesPagination()
        self.active: BasePagination = self.pages

    def paginate_queryset(self, queryset, request, view=None):
        size = request.query_params.get(self.cursor.page_size_query_param)
        if size is not None and not (size.isascii() and size.isdigit() and 1 <= int(size) <= self.cursor.max_page_size):
            raise DrfValidationError(
                {
                    self.cursor.page_size_query_param: [
                        f"A page size is an integer from 1 to {self.cursor.max_page_size}."
                    ]
                }
            )
        polling = "cursor" in request.query_params or "updated_since" in request.query_params
        self.active = self.cursor if polling else self.pages
        return self.active.paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data):
        return self.active.get_paginated_response(data)

    def get_paginated_response_schema(self, schema):
        out = self.pages.get_paginated_response_schema(schema)
        out["required"] = ["results"]
        out["properties"]["count"]["description"] = "Page-number mode only (absent with a cursor)."
        return out

    def get_schema_operation_parameters(self, view):
        parameters = self.pages.get_schema_operation_parameters(view)
        parameters += self.cursor.get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.cursor.page_size_query_param:
                parameter["schema"] = {**parameter["schema"], "minimum": 1, "maximum": self.cursor.max_page_size}
        return parameters


class OrderListIngestApi(generics.GenericAPIView):
    """GET lists the caller's orders; POST takes one order (idempotent)."""

    permission_classes = [HasRole]
    allowed_roles = ORDER_ROLES
    filterset_class = OrderFilter
    serializer_class = OrderSummaryOut
    parser_classes = [GuardedJSONParser]  # an order is JSON (a form cannot carry its nested lines)
    pagination_class = OrderListPagination

    class OrderIngestInput(FieldsCopiedSerializer):
        class OrderCustomerIn(FieldsCopiedSerializer):
            email = serializers.EmailField(required=False, allow_blank=True, max_length=254)
            name = serializers.CharField(required=False, allow_blank=True, max_length=200)
            phone = serializers.CharField(required=False, allow_blank=True, max_length=40)
            external_id = serializers.CharField(required=False, allow_blank=True, max_length=100)

        class OrderAddressIn(FieldsCopiedSerializer):
            name = serializers.CharField(required=False, allow_blank=True, max_length=200)
            company = serializers.CharField(required=False, allow_blank=True, max_length=200)
            line1 = serializers.CharField(required=False, allow_blank=True, max_length=200)
            line2 = serializers.CharField(required=False, allow_blank=True, max_length=200)
            city = serializers.CharField(required=False, allow_blank=True, max_length=100)
            region = serializers.CharField(required=False, allow_blank=True, max_length=50)
            postal_code = serializers.CharField(required=False, allow_blank=True, max_length=20)
            country = serializers.CharField(required=False, allow_blank=True, max_length=2)
            phone = serializers.CharField(required=False, allow_blank=True, max_length=40)

        class OrderLineIn(FieldsCopiedSerializer):
            sku = serializers.CharField(max_length=64)
            quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)
            # Decimal defaults: DRF does not convert a default, and intake checks for a Decimal.
            unit_price = serializers.DecimalField(
                max_digits=12, decimal_places=2, min_value=0, max_value=MAX_AMOUNT, default=Decimal("0")
            )
            name = serializers.CharField(required=False, allow_blank=True, max_length=255)

        channel = serializers.CharField(required=False, allow_blank=True, max_length=32)
        external_id = serializers.CharField(max_length=100)
        placed_at = AwareDateTimeField()
        customer = OrderCustomerIn(required=False, allow_null=True)
        shipping_address = OrderAddressIn(required=False, allow_null=True)
        billing_address = OrderAddressIn(required=False, allow_null=True)
        fulfillment_method = serializers.ChoiceField(choices=Order.Method.choices, default=Order.Method.SHIP)
        pickup_location = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=32)
        service_level = serializers.ChoiceField(choices=Order.ServiceLevel.choices, default="standard")
        payment_status = serializers.ChoiceField(choices=Order.PaymentStatus.choices, default="pending")
        currency = serializers.CharField(min_length=3, max_length=3, default="USD")
        shipping_total = serializers.DecimalField(
            max_digits=12, decimal_places=2, min_value=0, max_value=MAX_AMOUNT, default=Decimal("0")
        )
        tax_total = serializers.DecimalField(
            max_digits=12, decimal_places=2, min_value=0, max_value=MAX_AMOUNT, default=Decimal("0")
        )
        total = serializers.DecimalField(
            max_digits=12, decimal_places=2, min_value=0, max_value=MAX_AMOUNT, required=False
        )
        lines = OrderLineIn(many=True, allow_empty=False, max_length=MAX_LINES)

        def validate(self, attrs: dict) -> dict:
            if attrs.get("fulfillment_method", "ship") in ("ship", "same_day") and not attrs.get("shipping_address"):
                raise serializers.ValidationError({"shipping_address": ["Required for ship and same-day orders."]})
            return attrs

    def get_queryset(self):
        return order_list(channel=channel_for_client(user=self.request.user))

    @extend_schema(responses={200: OrderSummaryOut(many=True)})
    def get(self, request):
        qs = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(OrderSummaryOut(page, many=True).data)

    @extend_schema(
        request=OrderIngestInput,
        parameters=[OpenApiParameter("Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER)],
        responses={201: OrderIngestOut, 200: OrderIngestOut},
    )
    def post(self, request):
        data = self.OrderIngestInput(data=request.data)
        errors = {} if data.is_valid() else _errors_in_line_order(dict(data.errors), request.data)
        raw_channel = request.data.get("channel") if isinstance(request.data, dict) else None
        channel, channel_errors = _request_channel(request, raw_channel or None)
        if channel_errors:
            errors["channel"] = channel_errors
        order_in = None
        if not data.errors:
            d = data.validated_data
            c = d.get("customer") or None
            order_in = OrderIn(
                external_id=d["external_id"],
                placed_at=d["placed_at"],
                lines=[
                    LineIn(sku=ln["sku"], quantity=ln["quantity"], unit_price=ln["unit_price"], name=ln.get("name", ""))
                    for ln in d["lines"]
                ],
                customer=CustomerIn(**c) if c else None,
                shipping_address=dict(d.get("shipping_address") or {}),
                billing_address=dict(d.get("billing_address") or {}),
                fulfillment_method=d["fulfillment_method"],
                pickup_location=d.get("pickup_location") or "",
                service_level=d["service_level"],
                payment_status=d["payment_status"],
                currency=d["currency"].upper(),
                shipping_total=d["shipping_total"],
                tax_total=d["tax_total"],
                total=d.get("total"),
            )
            for k, v in order_input_errors(order_in=order_in).items():
                errors.setdefault(k, v)
        if errors:
            return Response(errors, status=status.HTTP_400_BAD_REQUEST)
        result = order_ingest(
            channel=channel,
            order_in=order_in,
            idempotency_key=request.headers.get("Idempotency-Key", ""),
            raw_payload=request.data,
            source="api",
            actor=request.user,
        )
        return Response(
            _ingest_body(result.order, result.created),
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description='The version the change is made against, as the ETag of GET gave it ("7"); stale -> 412.',
)


def _if_match(request) -> int | None:
    """The order version of the If-Match header ("7", W/"7" or 7), None without one or for "*"."""
    raw = request.headers.get("If-Match")
    if raw is None or raw.strip() == "*":
        return None
    value = raw.strip().removeprefix("W/").strip('"')
    if not value.isdigit() or len(value) > 10:
        raise DrfValidationError({"If-Match": [f'Must be the order\'s ETag, e.g. "7"; got {raw[:40]!r}.']})
    return int(value)


def _etag(order: Order) -> str:
    return f'"{order.version}"'


def _order_response(request, pk: int, result: OrderChangeResult | None = None) -> Response:
    order = _visible_order(request, pk)
    body = OrderChangeOut(order).data
    requests = list(result.requests) if result else []
    body["change"] = {
        "message": result.message if result else "",
        "refund_amount": str(result.refund_amount) if result else "0.00",
        "cancel_requests": [
            {
                "id": req.pk,
                "fulfillment_order": req.fulfillment_order_id,
                "location": req.fulfillment_order.location.code,
                "kind": req.kind,
                "status": req.status,
                "lines": [{"order_line": int(k), "quantity": q} for k, q in sorted(req.units.items())],
            }
            for req in requests
        ],
    }
    # 202: some units sit with a location that was asked to cancel them; that part completes on its answer.
    code = status.HTTP_202_ACCEPTED if requests else status.HTTP_200_OK
    return Response(body, status=code, headers={"ETag": _etag(order)})


def _change(request, pk: int, fn) -> Response:
    """Run a change service and answer: 200 with the order, 400 naming the field, 409 naming the conflict,
    412 when If-Match is stale."""
    try:
        result = fn()
    except DjangoValidationError as exc:
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        return Response(detail, status=status.HTTP_400_BAD_REQUEST)
    except OrderVersionStale as exc:
        return Response(
            {"detail": str(exc), "version": exc.current},
            status=status.HTTP_412_PRECONDITION_FAILED,
            headers={"ETag": f'"{exc.current}"'},
        )
    except OrderChangeConflict as exc:
        return Response({"detail": exc.messages}, status=status.HTTP_409_CONFLICT)
    return _order_response(request, pk, result)


def _only(data, allowed: set[str]) -> None:
    """Refuse unknown fields by name: a typo must not pass as 'nothing to change'."""
    if isinstance(data, dict) and (unknown := sorted(set(data) - allowed)):
        raise DrfValidationError({k: ["Unknown field."] for k in unknown[:20]})


class CancelRequestOut(serializers.Serializer):
    id = serializers.IntegerField()
    fulfillment_order = serializers.IntegerField()
    location = serializers.CharField()
    # cancel: the units leave the order when the location confirms; reroute: they are routed again (address change)
    kind = serializers.CharField()
    status = serializers.CharField()
    lines = serializers.ListField(child=serializers.DictField())


class ChangeOut(serializers.Serializer):
    message = serializers.CharField()
    refund_amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    cancel_requests = CancelRequestOut(many=True, required=False)


class OrderChangeOut(OrderOut):
    change = ChangeOut(read_only=True, required=False)


REASON = {"max_length": 300, "required": False, "allow_blank": True, "default": ""}


class OrderDetailApi(APIView):
    """GET an order (ETag = its version); PATCH its shipping address, fulfilment method or pickup store."""

    permission_classes = [HasRole]
    allowed_roles = ORDER_ROLES

    class OrderPatchInput(serializers.Serializer):
        shipping_address = serializers.JSONField(required=False)
        fulfillment_method = serializers.ChoiceField(choices=Order.Method.choices, required=False)
        pickup_location = serializers.CharField(max_length=32, required=False, allow_null=True)
        reason = serializers.CharField(**REASON)

        def validate(self, attrs: dict) -> dict:
            if "shipping_address" not in attrs and "fulfillment_method" not in attrs and "pickup_location" not in attrs:
                raise serializers.ValidationError(
                    {"shipping_address": ["Send shipping_address, fulfillment_method or pickup_location."]}
                )
            return attrs

    @extend_schema(responses={200: OrderOut})
    def get(self, request, pk: int):
        order = _visible_order(request, pk)
        return Response(OrderOut(order).data, headers={"ETag": _etag(order)})

    @extend_schema(
        request=OrderPatchInput,
        parameters=[IF_MATCH],
        responses={
            200: OrderChangeOut,
            202: OrderChangeOut,
            400: OpenApiTypes.OBJECT,
            409: OpenApiTypes.OBJECT,
            412: OpenApiTypes.OBJECT,
        },
    )
    def patch(self, request, pk: int):
        order = _visible_order(request, pk)
        _only(request.data, {"shipping_address", "fulfillment_method", "pickup_location", "reason"})
        data = self.OrderPatchInput(data=request.data)
        data.is_valid(raise_exception=True)
        v, version = data.validated_data, _if_match(request)
        store = None
        if v.get("pickup_location"):
            store = Location.objects.filter(code=v["pickup_location"]).first()
            if store is None:
                raise DrfValidationError({"pickup_location": [f"Unknown store {v['pickup_location']!r}."]})
        if "shipping_address" in v:
            if "fulfillment_method" in v or "pickup_location" in v:
                raise DrfValidationError({"shipping_address": ["Change the address and the method one at a time."]})
            return _change(
                request,
                pk,
                lambda: order_address_change(
                    order=order,
                    address=v["shipping_address"],
                    reason=v["reason"],
                    actor=request.user,
                    expected_version=version,
                ),
            )
        method = v.get("fulfillment_method") or (Order.Method.PICKUP if store else order.fulfillment_method)
        return _change(
            request,
            pk,
            lambda: order_method_change(
                order=order,
                method=method,
                pickup_location=store,
                reason=v["reason"],
                actor=request.user,
                expected_version=version,
            ),
        )


class OrderCancelApi(APIView):
    """Cancel units of lines ({"lines": [{"line_number": 1, "quantity": 2}]}) or, without lines, the whole
    order; units a location already has, or shipped ones, are refused with 409 naming them."""

    permission_classes = [HasRole]
    allowed_roles = ORDER_ROLES

    class OrderCancelInput(serializers.Serializer):
        class CancelLineIn(serializers.Serializer):
            line_number = serializers.IntegerField(min_value=1, max_value=MAX_LINES * 100)
            quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)

        reason = serializers.CharField(max_length=500)
        lines = CancelLineIn(many=True, required=False, allow_empty=False, max_length=MAX_LINES)

        def validate_lines(self, lines: list[dict]) -> list[dict]:
            numbers = [ln["line_number"] for ln in lines]
            if dupes := sorted({n for n in numbers if numbers.count(n) > 1}):
                raise serializers.ValidationError(f"Line {dupes[0]} is named more than once.")
            return lines

    @extend_schema(
        request=OrderCancelInput,
        parameters=[IF_MATCH],
        responses={
            200: OrderChangeOut,
            202: OrderChangeOut,
            400: OpenApiTypes.OBJECT,
            409: OpenApiTypes.OBJECT,
            412: OpenApiTypes.OBJECT,
        },
    )
    def post(self, request, pk: int):
        order = _visible_order(request, pk)
        _only(request.data, {"reason", "lines"})
        data = self.OrderCancelInput(data=request.data)
        data.is_valid(raise_exception=True)
        v, version = data.validated_data, _if_match(request)
        lines = {ln["line_number"]: ln["quantity"] for ln in v["lines"]} if "lines" in v else None
        return _change(
            request,
            pk,
            lambda: order_units_cancel(
                order=order, lines=lines, reason=v["reason"], actor=request.user, expected_version=version
            ),
        )


class OrderLineAddApi(APIView):
    """Add a line to an order (a known SKU); a placed order has the new units routed."""

    permission_classes = [HasRole]
    allowed_roles = ORDER_ROLES

    class OrderLineAddInput(serializers.Serializer):
        sku = serializers.CharField(max_length=64)
        quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)
        unit_price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0, max_value=MAX_AMOUNT)
        reason = serializers.CharField(**REASON)

    @extend_schema(
        request=OrderLineAddInput,
        parameters=[IF_MATCH],
        responses={200: OrderChangeOut, 400: OpenApiTypes.OBJECT, 409: OpenApiTypes.OBJECT, 412: OpenApiTypes.OBJECT},
    )
    def post(self, request, pk: int):
        order = _visible_order(request, pk)
        _only(request.data, {"sku", "quantity", "unit_price", "reason"})
        data = self.OrderLineAddInput(data=request.data)
        data.is_valid(raise_exception=True)
        v, version = data.validated_data, _if_match(request)
        return _change(
            request,
            pk,
            lambda: order_line_add(
                order=order,
                sku=v["sku"],
                quantity=v["quantity"],
                unit_price=v["unit_price"],
                reason=v["reason"],
                actor=request.user,
                expected_version=version,
            ),
        )


class OrderLineApi(APIView):
    """PATCH a line's quantity (the units wanted, cancelled ones not counted); DELETE cancels its open units."""

    permission_classes = [HasRole]
    allowed_roles = ORDER_ROLES

    class OrderLinePatchInput(serializers.Serializer):
        quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)
        reason = serializers.CharField(**REASON)

    class OrderLineDeleteInput(serializers.Serializer):
        reason = serializers.CharField(**REASON)

    @extend_schema(
        request=OrderLinePatchInput,
        parameters=[IF_MATCH],
        responses={
            200: OrderChangeOut,
            202: OrderChangeOut,
            400: OpenApiTypes.OBJECT,
            409: OpenApiTypes.OBJECT,
            412: OpenApiTypes.OBJECT,
        },
    )
    def patch(self, request, pk: int, line_number: int):
        order = _visible_order(request, pk)
        _only(request.data, {"quantity", "reason"})
        data = self.OrderLinePatchInput(data=request.data)
        data.is_valid(raise_exception=True)
        v, version = data.validated_data, _if_match(request)
        return _change(
            request,
            pk,
            lambda: order_line_quantity_set(
                order=order,
                line_number=line_number,
                quantity=v["quantity"],
                reason=v["reason"],
                actor=request.user,
                expected_version=version,
            ),
        )

    @extend_schema(
        request=OrderLineDeleteInput,
        parameters=[IF_MATCH],
        responses={
            200: OrderChangeOut,
            202: OrderChangeOut,
            400: OpenApiTypes.OBJECT,
            409: OpenApiTypes.OBJECT,
            412: OpenApiTypes.OBJECT,
        },
    )
    def delete(self, request, pk: int, line_number: int):
        order = _visible_order(request, pk)
        _only(request.data, {"reason"})
        data = self.OrderLineDeleteInput(data=request.data)
        data.is_valid(raise_exception=True)
        version = _if_match(request)
        return _change(
            request,
            pk,
            lambda: order_line_remove(
                order=order,
                line_number=line_number,
                reason=data.validated_data["reason"],
                actor=request.user,
                expected_version=version,
            ),
        )


class OrderHoldReleaseApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = (OPERATIONS,)

    class HoldReleaseInput(serializers.Serializer):
        note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")

    @extend_schema(request=HoldReleaseInput, responses={200: OrderOut})
    def post(self, request, pk: int, hold_id: int):
        hold = get_object_or_404(OrderHold, pk=hold_id, order_id=pk)
        data = self.HoldReleaseInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            order_hold_release(hold=hold, actor=request.user, note=data.validated_data["note"])
        except DjangoValidationError as exc:
            return Response({"detail": exc.messages}, status=status.HTTP_409_CONFLICT)
        return Response(OrderOut(_visible_order(request, pk)).data)


class OrderCsvImportApi(APIView):
    """B2B CSV: the file as the body (text/csv) or as multipart field `file`; all or nothing."""

    permission_classes = [HasRole]
    allowed_roles = ORDER_ROLES
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": inline_serializer("CsvUpload", {"file": serializers.FileField()})},
        parameters=[OpenApiParameter("channel", OpenApiTypes.STR)],
        responses={
            201: inline_serializer(
                "CsvImported",
                {"created": serializers.ListField(child=serializers.CharField()), "existing": serializers.ListField()},
            )
        },
    )
    def post(self, request):
        channel, channel_errors = _request_channel(request, request.query_params.get("channel"))
        if channel_errors:
            return Response({"channel": channel_errors}, status=status.HTTP_400_BAD_REQUEST)
        upload = request.FILES.get("file")
        if upload is None:
            return Response({"file": ["Send the CSV as multipart field 'file'."]}, status=status.HTTP_400_BAD_REQUEST)
        try:
            text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            return Response({"file": ["The file is not UTF-8 text."]}, status=status.HTTP_400_BAD_REQUEST)
        try:
            result = order_csv_import(channel=channel, text=text, actor=request.user)
        except CsvOrderErrors as exc:
            return Response({"errors": [e.as_dict() for e in exc.errors]}, status=status.HTTP_400_BAD_REQUEST)
        return Response(
            {"created": [o.number for o in result.created], "existing": [o.number for o in result.existing]},
            status=status.HTTP_201_CREATED,
        )


# --- Shopify webhook ---------------------------------------------------------------------------------------
MONEY_TEXT = r"^\d{1,9}(\.\d{1,2})?$"  # a Shopify amount ("199.00") up to the order limit


def _shopify_text(n: int, **kw) -> serializers.CharField:
    return serializers.CharField(max_length=n, required=False, allow_blank=True, **kw)


_SHOPIFY_ADDRESS = {
    k: _shopify_text(n)
    for k, n in (
        ("first_name", 99),
        ("last_name", 99),
        ("name", 200),
        ("company", 200),
        ("address1", 200),
        ("address2", 200),
        ("city", 100),
        ("province_code", 50),
        ("zip", 20),
        ("country_code", 2),
        ("phone", 40),
    )
}
# What the webhook takes, for the schema (the view maps the raw body with orders.shopify): Shopify's order
# object, only the fields read, with the limits intake enforces. Other fields are ignored (stored raw).
SHOPIFY_ORDER_SCHEMA = inline_serializer(
    "ShopifyOrder",
    {
        "id": serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        "created_at": serializers.DateTimeField(help_text="With its UTC offset; a naive time is refused."),
        "email": serializers.EmailField(max_length=254, required=False),
        "currency": serializers.RegexField(r"^[A-Za-z]{3}$", required=False),
        "financial_status": serializers.ChoiceField(choices=sorted(PAYMENT_STATUS), required=False),
        "total_price": serializers.RegexField(MONEY_TEXT, required=False),
        "total_tax": serializers.RegexField(MONEY_TEXT, required=False),
        "line_items": serializers.ListField(
            child=inline_serializer(
                "ShopifyLineItem",
                {
                    "id": serializers.IntegerField(
                        min_value=1, max_value=2**63 - 1, required=False, help_text="Kept to report fulfilments back."
                    ),
                    "quantity": serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY),
                    "price": serializers.RegexField(MONEY_TEXT, required=False),
                    "sku": _shopify_text(64),
                    "name": _shopify_text(255),
                    "title": _shopify_text(255),
                },
            ),
            min_length=1,
            max_length=MAX_LINES,
        ),
        "shipping_lines": serializers.ListField(
            child=inline_serializer(
                "ShopifyShippingLine",
                {"price": serializers.RegexField(MONEY_TEXT, required=False), "code": _shopify_text(100)},
            ),
            required=False,
            max_length=20,
        ),
        "customer": inline_serializer(
            "ShopifyCustomer",
            {
                "id": serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False),
                "email": serializers.EmailField(max_length=254, required=False),
                "first_name": _shopify_text(99),
                "last_name": _shopify_text(99),
                "phone": _shopify_text(40),
            },
            required=False,
        ),
        "shipping_address": inline_serializer("ShopifyAddress", _SHOPIFY_ADDRESS, required=False),
        "billing_address": inline_serializer("ShopifyBillingAddress", _SHOPIFY_ADDRESS, required=False),
    },
)
# Intake's field names → the Shopify order's.
SHOPIFY_FIELD_NAMES = {
    "external_id": "id",
    "placed_at": "created_at",
    "lines": "line_items",
    "total": "total_price",
    "tax_total": "total_tax",
    "shipping_total": "shipping_lines",
}


class ShopifyOrderCreateWebhookApi(APIView):
    """Shopify `orders/create`: authenticated by the HMAC of the raw body, not by a user."""

    parser_classes = [GuardedJSONParser]  # JSON only (the body is read raw, then parsed by json_body_load)
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [WebhookThrottle]

    @extend_schema(
        request=SHOPIFY_ORDER_SCHEMA,
        parameters=[
            OpenApiParameter("X-Shopify-Hmac-Sha256", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True),
            OpenApiParameter("X-Shopify-Webhook-Id", OpenApiTypes.STR, OpenApiParameter.HEADER),
        ],
        responses={200: OrderIngestOut, 401: OpenApiTypes.OBJECT},
    )
    def post(self, request, code: str):
        body = request.body  # the raw bytes, before anything parses them
        channel = Channel.objects.filter(code=code).first()
        if channel is None:
            return Response({"detail": f"Unknown channel {code!r}."}, status=status.HTTP_404_NOT_FOUND)
        if not channel_webhook_signature_valid(
            channel=channel, body=body, signature=request.headers.get("X-Shopify-Hmac-Sha256", "")
        ):
            return Response({"detail": "Invalid webhook signature."}, status=status.HTTP_401_UNAUTHORIZED)
        shop = request.headers.get("X-Shopify-Shop-Domain", "")
        if channel.shop_domain and shop != channel.shop_domain:
            return Response(
                {"detail": f"Shop {shop!r} is not this channel's shop."}, status=status.HTTP_401_UNAUTHORIZED
            )
        topic = request.headers.get("X-Shopify-Topic", "orders/create")
        if topic != "orders/create":
            return Response({"detail": f"This endpoint takes orders/create, not {topic!r}."}, status=400)
        try:
            payload = json_body_load(body)  # NUL, NaN, nesting; a 413 beyond the size limit
        except ParseError as exc:
            detail = str(exc.detail).replace("JSON parse error - ", "Malformed JSON: ")
            return Response({"detail": [detail]}, status=status.HTTP_400_BAD_REQUEST)
        try:
            order_in = shopify_order_input(payload=payload)
        except ShopifyPayloadError as exc:
            return Response(exc.errors, status=status.HTTP_400_BAD_REQUEST)
        webhook_id = request.headers.get("X-Shopify-Webhook-Id", "").strip()
        try:
            result = order_ingest(
                channel=channel,
                order_in=order_in,
                idempotency_key=f"shopify-webhook:{webhook_id}" if webhook_id else "",
                raw_payload=payload,
                source="shopify",
            )
        except DjangoValidationError as exc:
            # Intake's limits, named as Shopify names the fields.
            errors = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
            return Response(
                {SHOPIFY_FIELD_NAMES.get(k, k): v for k, v in errors.items()}, status=status.HTTP_400_BAD_REQUEST
            )
        return Response(_ingest_body(result.order, result.created), status=status.HTTP_200_OK)


class ShopifyOrderChangeWebhookApi(APIView):
    """Shopify `orders/cancelled`, `orders/updated`, `orders/edited` (X-Shopify-Topic): HMAC of the raw body
    like orders/create; deduplicated by X-Shopify-Webhook-Id; an update older than the newest applied is
    ignored; a topic for an order never received is kept for the channel updates screen. 200 once recorded
    (the outcome says what became of it), 400 naming the field, 401 without a valid signature."""

    parser_classes = [GuardedJSONParser]
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [WebhookThrottle]

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        parameters=[
            OpenApiParameter("X-Shopify-Hmac-Sha256", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True),
            OpenApiParameter(
                "X-Shopify-Topic", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True, enum=list(UPDATE_TOPICS)
            ),
            OpenApiParameter("X-Shopify-Webhook-Id", OpenApiTypes.STR, OpenApiParameter.HEADER),
        ],
        responses={
            200: inline_serializer(
                "ShopifyOrderChangeOut",
                {
                    "outcome": serializers.ChoiceField(choices=ChannelOrderUpdate.Outcome.choices),
                    "detail": serializers.CharField(),
                    "duplicate": serializers.BooleanField(),
                    "order": serializers.IntegerField(allow_null=True),
                },
            ),
            400: OpenApiTypes.OBJECT,
            401: OpenApiTypes.OBJECT,
        },
    )
    def post(self, request, code: str):
        body = request.body
        channel = Channel.objects.filter(code=code).first()
        if channel is None:
            return Response({"detail": f"Unknown channel {code!r}."}, status=status.HTTP_404_NOT_FOUND)
        if not channel_webhook_signature_valid(
            channel=channel, body=body, signature=request.headers.get("X-Shopify-Hmac-Sha256", "")
        ):
            return Response({"detail": "Invalid webhook signature."}, status=status.HTTP_401_UNAUTHORIZED)
        shop = request.headers.get("X-Shopify-Shop-Domain", "")
        if channel.shop_domain and shop != channel.shop_domain:
            return Response(
                {"detail": f"Shop {shop!r} is not this channel's shop."}, status=status.HTTP_401_UNAUTHORIZED
            )
        try:
            payload = json_body_load(body)
        except ParseError as exc:
            detail = str(exc.detail).replace("JSON parse error - ", "Malformed JSON: ")
            return Response({"detail": [detail]}, status=status.HTTP_400_BAD_REQUEST)
        try:
            update = shopify_order_update_input(topic=request.headers.get("X-Shopify-Topic", ""), payload=payload)
        except ShopifyPayloadError as exc:
            return Response(exc.errors, status=status.HTTP_400_BAD_REQUEST)
        result = channel_order_update_receive(
            channel=channel,
            update=update,
            webhook_id=request.headers.get("X-Shopify-Webhook-Id", ""),
            payload=payload,
        )
        row = result.update
        return Response(
            {"outcome": row.outcome, "detail": row.detail, "duplicate": result.duplicate, "order": row.order_id}
        )
