"""Supply API: inbound shipments (POs / ASNs), their receipts, delays and CSV import; transfer orders; the
availability timeline. Thin views over inventory.inbound, inventory.inbound_import, inventory.transfers and
inventory.atp; services raise ValidationErrors that become 400s naming the field, line or SKU."""

from __future__ import annotations

import django_filters
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from common.dbrouting import replica_reads
from common.parsers import GuardedJSONParser
from common.query import query_params_validate
from common.roles import API_CLIENT, INVENTORY_MANAGER, OPERATIONS, STAFF_ROLES, HasRole
from inventory.atp import HORIZON_DAYS, availability_timeline
from inventory.imports import FileRejected
from inventory.inbound import (
    MAX_LINES,
    MAX_QUANTITY,
    InboundIn,
    InboundLineIn,
    ReceiptIn,
    inbound_create,
    inbound_line_close,
    inbound_line_redate,
    inbound_receive,
)
from inventory.inbound_import import inbound_csv_import
from inventory.models import InboundShipment, Location, TransferOrder
from inventory.selectors import METHODS, UnknownSkus
from inventory.transfers import TransferLineIn, transfer_cancel, transfer_create, transfer_receive, transfer_ship
from orders.selectors import channel_resolve

SUPPLY_ROLES = (INVENTORY_MANAGER, OPERATIONS, API_CLIENT)
TEXT = {"max_length": 200, "trim_whitespace": True}


def _sku() -> serializers.CharField:
    return serializers.CharField(max_length=64)


# --- Inbound ------------------------------------------------------------------------------------------------


class InboundLineOut(serializers.Serializer):
    sku = serializers.CharField(source="product.sku")
    quantity = serializers.IntegerField()
    quantity_received = serializers.IntegerField()
    quantity_closed = serializers.IntegerField()
    quantity_promised = serializers.IntegerField()
    quantity_open = serializers.IntegerField()
    expected_date = serializers.DateField()


class InboundOut(serializers.ModelSerializer):
    location = serializers.CharField(source="location.code")
    lines = InboundLineOut(many=True)

    class Meta:
        model = InboundShipment
        fields = ["number", "kind", "supplier", "location", "status", "created_at", "lines"]


class InboundLineBody(serializers.Serializer):
    sku = _sku()
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)
    expected_date = serializers.DateField()


class InboundBody(serializers.Serializer):
    number = serializers.CharField(max_length=64)
    kind = serializers.ChoiceField(choices=InboundShipment.Kind.choices, default=InboundShipment.Kind.PURCHASE_ORDER)
    supplier = serializers.CharField(**TEXT)
    location = serializers.CharField(max_length=32)
    lines = InboundLineBody(many=True, allow_empty=False, max_length=MAX_LINES)


class InboundFilter(django_filters.FilterSet):
    location = django_filters.CharFilter(field_name="location__code")

    class Meta:
        model = InboundShipment
        fields = ["status", "kind", "supplier", "location"]


def _inbound_qs():
    return InboundShipment.objects.select_related("location").prefetch_related("lines__product")


class InboundListCreateApi(generics.ListAPIView):
    queryset = _inbound_qs()
    serializer_class = InboundOut
    filterset_class = InboundFilter
    parser_classes = [GuardedJSONParser]
    permission_classes = [HasRole]
    allowed_roles = SUPPLY_ROLES

    @extend_schema(request=InboundBody, responses={201: InboundOut})
    def post(self, request):
        body = InboundBody(data=request.data)
        body.is_valid(raise_exception=True)
        d = body.validated_data
        shipment = inbound_create(
            data=InboundIn(
                number=d["number"],
                kind=d["kind"],
                supplier=d["supplier"],
                location_code=d["location"],
                lines=[InboundLineIn(ln["sku"], ln["quantity"], ln["expected_date"]) for ln in d["lines"]],
            ),
            actor=request.user,
        )
        return Response(InboundOut(_inbound_qs().get(pk=shipment.pk)).data, status=status.HTTP_201_CREATED)


class InboundDetailApi(generics.RetrieveAPIView):
    queryset = _inbound_qs()
    serializer_class = InboundOut
    lookup_field = "number"
    lookup_value_regex = "[^/]+"
    permission_classes = [HasRole]
    allowed_roles = SUPPLY_ROLES


class _ShipmentAction(APIView):
    parser_classes = [GuardedJSONParser]
    permission_classes = [HasRole]
    allowed_roles = SUPPLY_ROLES

    def _shipment(self, number: str) -> InboundShipment:
        return get_object_or_404(InboundShipment, number=number)

    def _done(self, shipment: InboundShipment) -> Response:
        return Response(InboundOut(_inbound_qs().get(pk=shipment.pk)).data)


class InboundReceiptLineBody(serializers.Serializer):
    sku = _sku()
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)
    reason = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Needed when more than the open units arrive.", **TEXT
    )


class InboundReceiveApi(_ShipmentAction):
    class Body(serializers.Serializer):
        class Meta:
            ref_name = "InboundReceive"

        lines = InboundReceiptLineBody(many=True, allow_empty=False, max_length=MAX_LINES)

    @extend_schema(request=Body, responses={200: InboundOut})
    def post(self, request, number: str):
        shipment = self._shipment(number)
        body = self.Body(data=request.data)
        body.is_valid(raise_exception=True)
        receipts = [ReceiptIn(ln["sku"], ln["quantity"], ln["reason"]) for ln in body.validated_data["lines"]]
        inbound_receive(shipment_id=shipment.pk, receipts=receipts, actor=request.user)
        return self._done(shipment)


class InboundRedateApi(_ShipmentAction):
    class Body(serializers.Serializer):
        class Meta:
            ref_name = "InboundRedate"

        sku = _sku()
        expected_date = serializers.DateField()
        reason = serializers.CharField(**TEXT)

    @extend_schema(request=Body, responses={200: InboundOut})
    def post(self, request, number: str):
        shipment = self._shipment(number)
        body = self.Body(data=request.data)
        body.is_valid(raise_exception=True)
        d = body.validated_data
        inbound_line_redate(
            shipment_id=shipment.pk, sku=d["sku"], new_date=d["expected_date"], reason=d["reason"], actor=request.user
        )
        return self._done(shipment)


class InboundCloseLineApi(_ShipmentAction):
    class Body(serializers.Serializer):
        class Meta:
            ref_name = "InboundCloseLine"

        sku = _sku()
        reason = serializers.CharField(**TEXT)

    @extend_schema(request=Body, responses={200: InboundOut})
    def post(self, request, number: str):
        shipment = self._shipment(number)
        body = self.Body(data=request.data)
        body.is_valid(raise_exception=True)
        d = body.validated_data
        inbound_line_close(shipment_id=shipment.pk, sku=d["sku"], reason=d["reason"], actor=request.user)
        return self._done(shipment)


class InboundImportApi(APIView):
    """CSV of PO / ASN lines as multipart field `file`; all or nothing, every bad row named."""

    permission_classes = [HasRole]
    allowed_roles = SUPPLY_ROLES
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": inline_serializer("InboundCsvUpload", {"file": serializers.FileField()})},
        responses={
            201: inline_serializer(
                "InboundCsvImported",
                {
                    "shipments": serializers.ListField(child=serializers.CharField()),
                    "lines": serializers.IntegerField(),
                },
            )
        },
    )
    def post(self, request):
        upload = request.FILES.get("file")
        if upload is None:
            return Response({"file": ["Send the CSV as multipart field 'file'."]}, status=status.HTTP_400_BAD_REQUEST)
        try:
            text = upload.read().decode("utf-8")
        except UnicodeDecodeError:
            return Response({"file": ["The file is not UTF-8 text."]}, status=status.HTTP_400_BAD_REQUEST)
        if "\x00" in text:
            return Response({"file": ["The file contains NUL characters."]}, status=status.HTTP_400_BAD_REQUEST)
        try:
            result = inbound_csv_import(text=text, actor=request.user)
        except FileRejected as exc:
            body = {"file": [exc.message], "errors": [e.as_dict() for e in exc.errors], "error_total": exc.total}
            return Response(body, status=status.HTTP_400_BAD_REQUEST)
        return Response({"shipments": result.shipments, "lines": result.lines}, status=status.HTTP_201_CREATED)


# --- Transfers ----------------------------------------------------------------------------------------------


class TransferOut(serializers.ModelSerializer):
    class LineOut(serializers.Serializer):
        sku = serializers.CharField(source="product.sku")
        quantity = serializers.IntegerField()
        quantity_shipped = serializers.IntegerField()
        quantity_received = serializers.IntegerField()

    source = serializers.CharField(source="source.code")
    destination = serializers.CharField(source="destination.code")
    lines = LineOut(many=True)

    class Meta:
        model = TransferOrder
        fields = ["number", "source", "destination", "status", "expected_date", "note", "shipped_at", "received_at"]
        fields += ["created_at", "lines"]


class TransferLineBody(serializers.Serializer):
    sku = _sku()
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)


class TransferBody(serializers.Serializer):
    source = serializers.CharField(max_length=32)
    destination = serializers.CharField(max_length=32)
    expected_date = serializers.DateField()
    note = serializers.CharField(required=False, allow_blank=True, default="", **TEXT)
    lines = TransferLineBody(many=True, allow_empty=False, max_length=MAX_LINES)


def _transfer_qs():
    return TransferOrder.objects.select_related("source", "destination").prefetch_related("lines__product")


class TransferFilter(django_filters.FilterSet):
    source = django_filters.CharFilter(field_name="source__code")
    destination = django_filters.CharFilter(field_name="destination__code")

    class Meta:
        model = TransferOrder
        fields = ["status", "source", "destination"]


class TransferListCreateApi(generics.ListAPIView):
    queryset = _transfer_qs()
    serializer_class = TransferOut
    filterset_class = TransferFilter
    parser_classes = [GuardedJSONParser]
    permission_classes = [HasRole]
    allowed_roles = SUPPLY_ROLES

    @extend_schema(request=TransferBody, responses={201: TransferOut})
    def post(self, request):
        body = TransferBody(data=request.data)
        body.is_valid(raise_exception=True)
        d = body.validated_data
        transfer = transfer_create(
            source_code=d["source"],
            destination_code=d["destination"],
            lines=[TransferLineIn(ln["sku"], ln["quantity"]) for ln in d["lines"]],
            expected_date=d["expected_date"],
            note=d["note"],
            actor=request.user,
        )
        return Response(TransferOut(_transfer_qs().get(pk=transfer.pk)).data, status=status.HTTP_201_CREATED)


class TransferDetailApi(generics.RetrieveAPIView):
    queryset = _transfer_qs()
    serializer_class = TransferOut
    lookup_field = "number"
    permission_classes = [HasRole]
    allowed_roles = SUPPLY_ROLES


class TransferReceiveBody(serializers.Serializer):
    lines = TransferLineBody(many=True, required=False, allow_empty=False, max_length=MAX_LINES)


class _TransferStep(APIView):
    parser_classes = [GuardedJSONParser]
    permission_classes = [HasRole]
    allowed_roles = SUPPLY_ROLES

    def _step(self, *, transfer: TransferOrder, request) -> None:
        raise NotImplementedError

    def post(self, request, number: str):
        transfer = get_object_or_404(TransferOrder, number=number)
        self._step(transfer=transfer, request=request)
        return Response(TransferOut(_transfer_qs().get(pk=transfer.pk)).data)


class TransferShipApi(_TransferStep):
    """The whole transfer leaves the source: its units go from on hand into transit."""

    @extend_schema(request=None, responses={200: TransferOut})
    def post(self, request, number: str):
        return super().post(request, number)

    def _step(self, *, transfer: TransferOrder, request) -> None:
        transfer_ship(transfer_id=transfer.pk, actor=request.user)


class TransferReceiveApi(_TransferStep):
    """The destination counts units in: every unit in transit, or the `lines` given (partial receipts)."""

    @extend_schema(request=TransferReceiveBody, responses={200: TransferOut})
    def post(self, request, number: str):
        return super().post(request, number)

    def _step(self, *, transfer: TransferOrder, request) -> None:
        body = TransferReceiveBody(data=request.data)
        body.is_valid(raise_exception=True)
        lines = body.validated_data.get("lines")
        wanted = None if lines is None else [TransferLineIn(ln["sku"], ln["quantity"]) for ln in lines]
        transfer_receive(transfer_id=transfer.pk, lines=wanted, actor=request.user)


class TransferCancelApi(_TransferStep):
    """A transfer that has not shipped is cancelled (nothing moved)."""

    @extend_schema(request=None, responses={200: TransferOut})
    def post(self, request, number: str):
        return super().post(request, number)

    def _step(self, *, transfer: TransferOrder, request) -> None:
        transfer_cancel(transfer_id=transfer.pk, actor=request.user)


# --- Availability over time ---------------------------------------------------------------------------------


def location_ids_for(*, code: str | None) -> list[int] | None:
    """The one location asked for (None: the network); a 400 naming `location` when it does not exist."""
    if code is None:
        return None
    pk = Location.objects.filter(code=code).values_list("pk", flat=True).first()
    if pk is None:
        raise serializers.ValidationError({"location": [f"Unknown location {code!r}."]})
    return [pk]


class AvailabilityTimelineApi(APIView):
    """ATP of one SKU today and on each later date where supply arrives, and the earliest date for
    `quantity` units (null when not within `days`)."""

    permission_classes = [HasRole]
    allowed_roles = STAFF_ROLES + (API_CLIENT,)  # as the availability endpoint

    class Params(serializers.Serializer):
        sku = _sku()
        quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY, default=1)
        days = serializers.IntegerField(min_value=0, max_value=HORIZON_DAYS, default=HORIZON_DAYS)
        channel = serializers.CharField(required=False, max_length=50)
        method = serializers.ChoiceField(choices=METHODS, required=False)
        location = serializers.CharField(required=False, max_length=32)

    class Out(serializers.Serializer):
        class Point(serializers.Serializer):
            date = serializers.DateField()
            available = serializers.IntegerField()

        sku = serializers.CharField()
        quantity = serializers.IntegerField()
        earliest_date = serializers.DateField(allow_null=True)
        timeline = Point(many=True)

    @extend_schema(parameters=[Params], responses={200: Out})
    @replica_reads()
    def get(self, request):
        query_params_validate(params=request.query_params, typed=["sku", "channel", "location"])
        params = self.Params(data=request.query_params)
        params.is_valid(raise_exception=True)
        d = params.validated_data
        channel = channel_resolve(user=request.user, code=d.get("channel"))
        try:
            timeline = availability_timeline(
                sku=d["sku"],
                channel=channel,
                method=d.get("method"),
                location_ids=location_ids_for(code=d.get("location")),
                days=d["days"],
            )
        except UnknownSkus as exc:
            return Response({"sku": [f"Unknown SKU {s!r}." for s in exc.skus]}, status=status.HTTP_400_BAD_REQUEST)
        return Response(
            {
                "sku": timeline.sku,
                "quantity": d["quantity"],
                "earliest_date": timeline.earliest_for(d["quantity"]),
                "timeline": [{"date": p.on, "available": p.available} for p in timeline.points],
            }
        )
