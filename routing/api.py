"""Routing API: an order's routing decisions, and the storefront delivery promise. Thin views."""

from datetime import UTC, datetime, time, timedelta

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from common.dbrouting import replica_reads
from common.roles import API_CLIENT, OPERATIONS, STAFF_ROLES, HasRole, user_has_role
from orders.models import Channel, Order
from orders.selectors import channel_for_client, channel_resolve
from routing.models import RoutingDecision
from routing.selectors import (
    PROMISE_HORIZON_DAYS,
    PROMISE_MAX_UNITS,
    PromiseError,
    decision_explain,
    promise_for,
)


class OrderRoutingApi(APIView):
    """The order's latest routing decision, explained, and the list of all its decisions."""

    permission_classes = [HasRole]
    allowed_roles = (OPERATIONS, API_CLIENT)

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, pk: int):
        order = get_object_or_404(Order.objects.only("pk", "channel_id", "number"), pk=pk)
        if not user_has_role(user=request.user, roles=(OPERATIONS,)):
            bound = channel_for_client(user=request.user)
            if bound is None or bound.pk != order.channel_id:
                raise PermissionDenied("This API client may only read orders of its own channel.")
        decisions = list(RoutingDecision.objects.filter(order=order).select_related("rule_set_version__rule_set"))
        if not decisions:
            return Response({"detail": f"Order {order.number} has not been routed yet."}, status=404)
        latest = max(decisions, key=lambda d: d.pk)
        return Response(
            {
                "order": order.number,
                "latest": decision_explain(decision=latest),
                "history": [
                    {
                        "id": d.pk,
                        "kind": d.kind,
                        "outcome": d.outcome,
                        "reason": d.reason,
                        "cost": float(d.model_cost),
                        "created_at": d.created_at,
                    }
                    for d in sorted(decisions, key=lambda d: d.pk)
                ],
            }
        )


class PromiseApi(APIView):
    """Per service level the earliest delivery date the network can keep, and the nearest pickup store."""

    permission_classes = [HasRole]
    allowed_roles = STAFF_ROLES + (API_CLIENT,)

    class InputSerializer(serializers.Serializer):
        sku = serializers.CharField(max_length=64)
        quantity = serializers.IntegerField(min_value=1, max_value=PROMISE_MAX_UNITS, default=1)
        postal_code = serializers.CharField(max_length=10)
        channel = serializers.CharField(required=False, max_length=64)
        date = serializers.DateField(
            required=False, help_text="The day the order would be placed (today or later; default now)."
        )

        def validate_date(self, value):
            today = timezone.localdate()
            if not today <= value <= today + timedelta(days=PROMISE_HORIZON_DAYS):
                raise serializers.ValidationError(
                    f"Give a date from today ({today}) to {PROMISE_HORIZON_DAYS} days ahead."
                )
            return value

    @extend_schema(
        parameters=[InputSerializer],
        responses={200: OpenApiTypes.OBJECT},
    )
    @replica_reads()
    def get(self, request):
        s = self.InputSerializer(data=request.query_params)
        s.is_valid(raise_exception=True)
        d = s.validated_data
        channel = _resolve_channel(request, d.get("channel"))
        on = d.get("date")
        now = datetime.combine(on, time(14, 0), tzinfo=UTC) if on and on > timezone.localdate() else None
        try:
            body = promise_for(
                sku=d["sku"], quantity=d["quantity"], postal_code=d["postal_code"], channel=channel, now=now
            )
        except PromiseError as exc:
            return Response({exc.field: [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
        return Response(body)


def _resolve_channel(request, code: str | None) -> Channel | None:
    return channel_resolve(user=request.user, code=code)
