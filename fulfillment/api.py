"""Fulfilment API: fulfilment orders, confirmations from warehouses/3PLs/suppliers, documents.

Every endpoint is scoped: operations see everything; other users (store staff, a 3PL's or supplier's
integration user) only the locations they are staff of (`Location.staff`). Anything else is a 404.
"""

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from common.roles import API_CLIENT, OPERATIONS, STORE_STAFF, HasRole
from common.security import FeedThrottle
from fulfillment.documents import commercial_invoice_pdf
from fulfillment.models import FulfillmentOrder, PurchaseOrder, Shipment
from fulfillment.selectors import fulfillment_orders_visible_to
from fulfillment.services import (
    EVENT_TYPES,
    fulfillment_event_apply,
    purchase_order_confirm_shipment,
    purchase_orders_confirm_csv,
)

ROLES = (OPERATIONS, API_CLIENT, STORE_STAFF)
MAX_LINES = settings.DOM.get("ORDER_MAX_LINES", 500)
MAX_QUANTITY = settings.DOM.get("ORDER_MAX_QUANTITY", 100_000)


def _purchase_orders_visible_to(user):
    from common.roles import user_has_role

    if user.is_superuser or user_has_role(user=user, roles=[OPERATIONS]):
        return PurchaseOrder.objects.all()
    return PurchaseOrder.objects.filter(supplier__staff=user)


class ShipmentOutSerializer(serializers.ModelSerializer):
    class Meta:
        model = Shipment
        fields = [
            "id",
            "carrier",
            "service",
            "tracking_number",
            "tracking_url",
            "weight_grams",
            "cost",
            "currency",
            "customs_items",
            "packed_at",
            "shipped_at",
            "handed_off_at",
            "delivered_at",
        ]


class FulfillmentLineOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sku = serializers.CharField(source="order_line.sku")
    quantity = serializers.IntegerField()
    quantity_picked = serializers.IntegerField()
    quantity_short = serializers.IntegerField()
    quantity_shipped = serializers.IntegerField()
    quantity_cancelled = serializers.IntegerField()
    short_reason = serializers.CharField()


class FulfillmentOrderOutSerializer(serializers.ModelSerializer):
    order = serializers.CharField(source="order.number")
    location = serializers.CharField(source="location.code")
    lines = FulfillmentLineOutSerializer(many=True)
    shipments = ShipmentOutSerializer(many=True)

    class Meta:
        model = FulfillmentOrder
        fields = [
            "id",
            "order",
            "location",
            "method",
            "status",
            "carrier_service",
            "ship_by",
            "pickup_by",
            "released_at",
            "picked_up_at",
            "collected_by_name",
            "rejection_reason",
            "created_at",
            "updated_at",
            "lines",
            "shipments",
        ]


class FulfillmentOrderListApi(generics.ListAPIView):
    serializer_class = FulfillmentOrderOutSerializer
    permission_classes = [HasRole]
    allowed_roles = ROLES
    filterset_fields = ["status", "method"]

    queryset = FulfillmentOrder.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return FulfillmentOrder.objects.none()
        qs = fulfillment_orders_visible_to(user=self.request.user).select_related("order", "location")
        if code := self.request.query_params.get("location"):
            qs = qs.filter(location__code=code)
        return qs.prefetch_related("lines__order_line", "shipments").order_by("pk")


class FulfillmentOrderDetailApi(generics.RetrieveAPIView):
    serializer_class = FulfillmentOrderOutSerializer
    permission_classes = [HasRole]
    allowed_roles = ROLES

    queryset = FulfillmentOrder.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return FulfillmentOrder.objects.none()
        return fulfillment_orders_visible_to(user=self.request.user).select_related("order", "location")


class FulfillmentEventApi(APIView):
    """A confirmation from the location doing the work: picked, shipped (with tracking), rejected (with a
    reason), delivered; and the answer to a cancel request (`cancel_confirmed` / `cancel_refused`, naming
    `cancel_request` or answering every waiting request of the fulfilment order). The same `event_id` twice is
    applied once."""

    permission_classes = [HasRole]
    allowed_roles = ROLES
    throttle_classes = [FeedThrottle]

    class FulfillmentEventInputSerializer(serializers.Serializer):
        # Sizes are the Shipment columns'; quantities and lines the order limits (settings.DOM ORDER_MAX_*).
        event_id = serializers.CharField(max_length=100)
        type = serializers.ChoiceField(choices=EVENT_TYPES)
        tracking_number = serializers.CharField(required=False, allow_blank=True, max_length=80)
        tracking_url = serializers.CharField(required=False, allow_blank=True, max_length=200)
        carrier = serializers.CharField(required=False, allow_blank=True, max_length=40)
        service = serializers.CharField(required=False, allow_blank=True, max_length=40)
        cost = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=0, required=False)
        reason = serializers.CharField(required=False, allow_blank=True, max_length=500)
        cancel_request = serializers.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
        lines = serializers.ListField(
            child=inline_serializer(
                "EventLine",
                {
                    "sku": serializers.CharField(max_length=64),
                    "quantity": serializers.IntegerField(min_value=0, max_value=MAX_QUANTITY),
                },
            ),
            required=False,
            max_length=MAX_LINES,
        )

    @extend_schema(
        request=FulfillmentEventInputSerializer,
        responses=inline_serializer(
            "EventResult", {"status": serializers.CharField(), "duplicate": serializers.BooleanField()}
        ),
    )
    def post(self, request, pk: int):
        fo = get_object_or_404(fulfillment_orders_visible_to(user=request.user), pk=pk)
        data = self.FulfillmentEventInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        payload = {
            k: (str(v) if k == "cost" else v) for k, v in data.validated_data.items() if k not in ("event_id", "type")
        }
        fo, duplicate = fulfillment_event_apply(
            fo_id=fo.pk,
            event_id=data.validated_data["event_id"],
            type=data.validated_data["type"],
            payload=payload,
            actor=request.user,
        )
        return Response({"status": fo.status, "duplicate": duplicate})


class CommercialInvoiceApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = ROLES

    @extend_schema(responses={(200, "application/pdf"): bytes})
    def get(self, request, pk: int):
        visible = fulfillment_orders_visible_to(user=request.user)
        shipment = get_object_or_404(Shipment.objects.filter(fulfillment_order__in=visible), pk=pk)
        response = HttpResponse(commercial_invoice_pdf(shipment=shipment), content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="commercial-invoice-{shipment.pk}.pdf"'
        return response


class PurchaseOrderShipmentApi(APIView):
    """The supplier shipped a dropship purchase order."""

    permission_classes = [HasRole]
    allowed_roles = (OPERATIONS, API_CLIENT)
    throttle_classes = [FeedThrottle]

    class PurchaseOrderShipmentInputSerializer(serializers.Serializer):
        tracking_number = serializers.CharField(max_length=80)
        carrier = serializers.CharField(required=False, allow_blank=True, default="", max_length=40)
        service = serializers.CharField(required=False, default="ups_ground", max_length=40)
        tracking_url = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)

    @extend_schema(request=PurchaseOrderShipmentInputSerializer, responses=ShipmentOutSerializer)
    def post(self, request, number: str):
        po = get_object_or_404(_purchase_orders_visible_to(request.user), number=number)
        data = self.PurchaseOrderShipmentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        shipment = purchase_order_confirm_shipment(po_number=po.number, actor=request.user, **data.validated_data)
        return Response(ShipmentOutSerializer(shipment).data, status=201)


class CsvTextParser(BaseParser):
    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None) -> str:
        try:
            text = stream.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ParseError("The CSV is not UTF-8 text.") from None
        if "\x00" in text:
            raise ParseError("The CSV contains a NUL character.")
        return text


class PurchaseOrderCsvApi(APIView):
    """Confirm many purchase orders from a CSV body (`text/csv`) or an uploaded `file`."""

    permission_classes = [HasRole]
    allowed_roles = (OPERATIONS, API_CLIENT)
    throttle_classes = [FeedThrottle]
    parser_classes = [CsvTextParser, MultiPartParser]

    @extend_schema(request={"text/csv": str}, responses=ShipmentOutSerializer(many=True))
    def post(self, request):
        data = request.data
        upload = data.get("file") if hasattr(data, "get") else None
        try:
            text = upload.read().decode("utf-8-sig") if upload else (data if isinstance(data, str) else "")
        except UnicodeDecodeError:
            return Response({"file": ["The file is not UTF-8 text."]}, status=400)
        from common.roles import user_has_role

        supplier = None
        if not (request.user.is_superuser or user_has_role(user=request.user, roles=[OPERATIONS])):
            supplier = request.user.locations.filter(kind="dropship").first()
            if supplier is None:
                return Response({"detail": "Your account is not linked to a supplier."}, status=403)
        shipments = purchase_orders_confirm_csv(text=text, supplier=supplier, actor=request.user)
        return Response(ShipmentOutSerializer(shipments, many=True).data, status=201)
