"""Returns API: create an RMA (channel token or Operations), list and read RMAs, mark in transit, record the
refund. Thin views: services decide (their ValidationErrors become 400s naming the line and SKU)."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from common.query import query_params_validate
from common.roles import API_CLIENT, OPERATIONS, HasRole
from inventory.models import Location
from orders.models import Order
from orders.selectors import channel_for_client
from returns.models import ReturnAuthorization, ReturnLine
from returns.selectors import decision_explain, decision_latest, rma_list, rmas_visible_to
from returns.services import ReturnLineIn, rma_create, rma_mark_in_transit, rma_refund_issue

RETURN_ROLES = (API_CLIENT, OPERATIONS)


class ReturnLineOut(serializers.Serializer):
    id = serializers.IntegerField()
    order_line = serializers.IntegerField(source="order_line_id")
    line_number = serializers.IntegerField(source="order_line.line_number")
    sku = serializers.CharField()
    quantity = serializers.IntegerField()
    reason = serializers.CharField()
    reason_note = serializers.CharField()
    unit_price = serializers.DecimalField(max_digits=12, decimal_places=2)
    quantity_received = serializers.IntegerField()
    condition = serializers.CharField()
    disposition = serializers.CharField()


class ReturnRefundOut(serializers.Serializer):
    status = serializers.CharField(source="refund_status")
    amount = serializers.DecimalField(source="refund_amount", max_digits=12, decimal_places=2)
    currency = serializers.CharField()
    reference = serializers.CharField(source="refund_reference")
    issued_at = serializers.DateTimeField(source="refund_issued_at", allow_null=True)


class ReturnSummaryOut(serializers.Serializer):
    number = serializers.CharField()
    order = serializers.CharField(source="order.number")
    status = serializers.CharField()
    method = serializers.CharField()
    return_location = serializers.CharField(source="return_location.code", default=None, allow_null=True)
    refund = ReturnRefundOut(source="*")
    created_at = serializers.DateTimeField()


class ReturnOut(ReturnSummaryOut):
    source = serializers.CharField()
    customer_note = serializers.CharField()
    tracking_number = serializers.CharField()
    rejected_reason = serializers.CharField()
    received_at = serializers.DateTimeField(allow_null=True)
    lines = ReturnLineOut(many=True)
    decision = serializers.SerializerMethodField()

    def get_decision(self, rma) -> dict | None:
        return decision_explain(decision=decision_latest(rma=rma))


def _visible(request, number: str) -> ReturnAuthorization:
    rma = rmas_visible_to(user=request.user).prefetch_related("lines__order_line").filter(number=number).first()
    if rma is None:
        raise Http404(f"No return {number}.")
    return rma


def _body(rma: ReturnAuthorization) -> dict:
    fresh = ReturnAuthorization.objects.select_related("order", "return_location").get(pk=rma.pk)
    return ReturnOut(fresh).data


class ReturnListCreateApi(generics.GenericAPIView):
    """GET lists the caller's returns (API clients: their channel's); POST authorises a return."""

    permission_classes = [HasRole]
    allowed_roles = RETURN_ROLES
    serializer_class = ReturnSummaryOut
    queryset = ReturnAuthorization.objects.none()  # for the schema; get() reads through the selector

    class ReturnCreateInput(serializers.Serializer):
        class ReturnLineInput(serializers.Serializer):
            sku = serializers.CharField(required=False, allow_blank=True, max_length=64)
            line_number = serializers.IntegerField(required=False, min_value=1)
            quantity = serializers.IntegerField(min_value=1, max_value=100000)
            reason = serializers.ChoiceField(choices=ReturnLine.Reason.choices, default=ReturnLine.Reason.OTHER)
            note = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")

            def validate(self, attrs: dict) -> dict:
                if not attrs.get("sku") and not attrs.get("line_number"):
                    raise serializers.ValidationError("Give the line's sku or line_number.")
                return attrs

        order = serializers.CharField(max_length=32, help_text="The order number.")
        method = serializers.ChoiceField(choices=ReturnAuthorization.Method.choices, default="mail")
        store = serializers.CharField(required=False, allow_blank=True, help_text="In-store returns: the store code.")
        customer_note = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")
        lines = ReturnLineInput(many=True, allow_empty=False, max_length=500)

    @extend_schema(
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=ReturnAuthorization.Status.values),
            OpenApiParameter("order", OpenApiTypes.STR, description="order number"),
        ],
        responses={200: ReturnSummaryOut(many=True)},
    )
    def get(self, request):
        query_params_validate(params=request.query_params, choices={"status": ReturnAuthorization.Status.values})
        qs = rma_list(user=request.user, status=request.query_params.get("status") or None)
        if request.query_params.get("order"):
            qs = qs.filter(order__number=request.query_params["order"])
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(ReturnSummaryOut(page, many=True).data)

    @extend_schema(
        request=ReturnCreateInput,
        parameters=[OpenApiParameter("Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER)],
        responses={201: ReturnOut, 200: ReturnOut},
    )
    def post(self, request):
        data = self.ReturnCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        d = data.validated_data
        orders = Order.objects.filter(number=d["order"])
        channel = channel_for_client(user=request.user)
        if channel is not None:
            orders = orders.filter(channel=channel)
        order = orders.first()
        if order is None:
            where = f" on channel {channel.code!r}" if channel is not None else ""
            return Response({"order": [f"No order {d['order']!r}{where}."]}, status=status.HTTP_400_BAD_REQUEST)
        store = None
        if d.get("store"):
            store = Location.objects.filter(code=d["store"]).first()
            if store is None:
                return Response({"store": [f"No location {d['store']!r}."]}, status=status.HTTP_400_BAD_REQUEST)
        result = rma_create(
            order=order,
            lines=[
                ReturnLineIn(
                    quantity=ln["quantity"],
                    sku=ln.get("sku", ""),
                    line_number=ln.get("line_number"),
                    reason=ln["reason"],
                    note=ln.get("note", ""),
                )
                for ln in d["lines"]
            ],
            method=d["method"],
            store=store,
            source="api",
            idempotency_key=request.headers.get("Idempotency-Key", ""),
            customer_note=d.get("customer_note", ""),
            actor=request.user,
        )
        return Response(_body(result.rma), status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


class ReturnDetailApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = RETURN_ROLES

    @extend_schema(responses={200: ReturnOut})
    def get(self, request, number: str):
        return Response(ReturnOut(_visible(request, number)).data)


class ReturnInTransitApi(APIView):
    """The customer sent the parcel (mail-in returns); repeating it only updates the tracking number."""

    permission_classes = [HasRole]
    allowed_roles = RETURN_ROLES

    class ReturnInTransitInput(serializers.Serializer):
        tracking_number = serializers.CharField(required=False, allow_blank=True, max_length=80, default="")

    @extend_schema(request=ReturnInTransitInput, responses={200: ReturnOut})
    def post(self, request, number: str):
        rma = _visible(request, number)
        data = self.ReturnInTransitInput(data=request.data)
        data.is_valid(raise_exception=True)
        rma_mark_in_transit(rma=rma, tracking_number=data.validated_data["tracking_number"], actor=request.user)
        return Response(_body(rma))


class ReturnRefundApi(APIView):
    """Record that the refund was paid (Operations, or the payment system's account); closes the return."""

    permission_classes = [HasRole]
    allowed_roles = (OPERATIONS,)

    class ReturnRefundInput(serializers.Serializer):
        reference = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")

    @extend_schema(request=ReturnRefundInput, responses={200: ReturnOut})
    def post(self, request, number: str):
        rma = _visible(request, number)
        data = self.ReturnRefundInput(data=request.data)
        data.is_valid(raise_exception=True)
        rma_refund_issue(rma=rma, reference=data.validated_data["reference"], actor=request.user)
        return Response(_body(rma))
