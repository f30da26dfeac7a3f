"""Subscriptions API (Operations): list, create (the signing secret is in the creation answer only), read,
update, rotate the secret (the previous one keeps signing during the overlap), delete; a subscription's
deliveries and "send again". Thin: webhooks.services decides; its ValidationErrors become 400s naming the
field. Secrets and Shopify access tokens are write-only: no answer but creation/rotation carries a secret,
and none ever carries a token."""

from __future__ import annotations

import json

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api import StrictBooleanField, StrictCharField
from common.parsers import GuardedJSONParser
from common.query import query_params_validate
from common.roles import OPERATIONS, HasRole
from orders.models import Channel
from webhooks import selectors, services
from webhooks.models import Delivery, EventType, Subscription

URL_PATTERN = r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[!-~]*)?$"


class SubscriptionOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=Subscription.Kind.choices)
    channel = serializers.CharField(source="channel.code", default=None, allow_null=True)
    url = serializers.CharField()
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=EventType.choices))
    is_active = serializers.BooleanField()
    previous_secret_expires_at = serializers.DateTimeField(
        allow_null=True, help_text="While a rotated secret still signs too (the overlap), when it stops."
    )
    has_access_token = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    def get_has_access_token(self, sub: Subscription) -> bool:
        return bool(sub.access_token)


class SubscriptionCreatedOut(SubscriptionOut):
    secret = serializers.CharField(help_text="The signing secret: in this answer only, never again.")


class SecretOut(serializers.Serializer):
    secret = serializers.CharField(help_text="The new signing secret: in this answer only, never again.")
    previous_secret_expires_at = serializers.DateTimeField()


class _Strict(serializers.Serializer):
    """Unknown fields are refused (naming them), not ignored."""

    def validate(self, attrs: dict) -> dict:
        unknown = sorted(set(self.initial_data) - set(self.fields)) if isinstance(self.initial_data, dict) else []
        if unknown:
            raise serializers.ValidationError({k: ["Unknown field."] for k in unknown})
        return attrs


def _event_types(**kw) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.ChoiceField(choices=EventType.choices), min_length=1, max_length=50, **kw
    )


class SubscriptionCreateIn(_Strict):
    name = StrictCharField(max_length=100)
    kind = serializers.ChoiceField(choices=Subscription.Kind.choices, default=Subscription.Kind.WEBHOOK)
    channel = StrictCharField(
        max_length=32, required=False, allow_null=True, default=None, help_text="Channel code; none: every channel."
    )
    url = serializers.RegexField(URL_PATTERN, max_length=500, help_text="Checked by the outbound guard.")
    event_types = _event_types()
    is_active = StrictBooleanField(default=True)
    access_token = StrictCharField(
        max_length=200, required=False, default="", write_only=True, help_text="Shopify only; write-only."
    )


class SubscriptionUpdateIn(_Strict):
    name = StrictCharField(max_length=100, required=False)
    url = serializers.RegexField(URL_PATTERN, max_length=500, required=False)
    event_types = _event_types(required=False)
    is_active = StrictBooleanField(required=False)
    access_token = StrictCharField(max_length=200, required=False, write_only=True)


class DeliveryOut(serializers.Serializer):
    id = serializers.IntegerField()
    event_id = serializers.CharField(source="event.uid", help_text="The webhook-id header.")
    event_type = serializers.CharField(source="event.type")
    order = serializers.CharField(source="order.number", default=None, allow_null=True)
    status = serializers.ChoiceField(choices=Delivery.Status.choices)
    attempts = serializers.IntegerField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    last_attempt_at = serializers.DateTimeField(allow_null=True)
    last_status_code = serializers.IntegerField(allow_null=True)
    last_response = serializers.CharField()
    last_error = serializers.CharField()
    delivered_at = serializers.DateTimeField(allow_null=True)
    payload = serializers.SerializerMethodField()

    def get_payload(self, d: Delivery) -> dict:
        return json.loads(services.event_body(event=d.event))


class _Ops:
    permission_classes = [HasRole]
    allowed_roles = (OPERATIONS,)
    parser_classes = [GuardedJSONParser]  # JSON only: a form cannot carry the booleans and lists


def _channel(code: str | None) -> Channel | None:
    if not code:
        return None
    channel = Channel.objects.filter(code=code).first()
    if channel is None:
        raise serializers.ValidationError({"channel": [f"No channel {code!r}."]})
    return channel


class SubscriptionListApi(_Ops, generics.GenericAPIView):
    serializer_class = SubscriptionOut
    queryset = Subscription.objects.none()

    @extend_schema(responses={200: SubscriptionOut(many=True)})
    def get(self, request):
        query_params_validate(params=request.query_params)
        page = self.paginate_queryset(Subscription.objects.select_related("channel").order_by("name", "id"))
        return self.get_paginated_response(SubscriptionOut(page, many=True).data)

    @extend_schema(request=SubscriptionCreateIn, responses={201: SubscriptionCreatedOut})
    def post(self, request):
        data = SubscriptionCreateIn(data=request.data)
        data.is_valid(raise_exception=True)
        d = data.validated_data
        sub, secret = services.subscription_create(
            name=d["name"],
            kind=d["kind"],
            url=d["url"],
            event_types=d["event_types"],
            channel=_channel(d.get("channel")),
            is_active=d["is_active"],
            access_token=d.get("access_token") or "",
        )
        body = {**SubscriptionOut(sub).data, "secret": secret}
        return Response(body, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"})


class SubscriptionDetailApi(_Ops, APIView):
    @extend_schema(responses={200: SubscriptionOut})
    def get(self, request, pk: int):
        return Response(SubscriptionOut(get_object_or_404(Subscription.objects.select_related("channel"), pk=pk)).data)

    @extend_schema(request=SubscriptionUpdateIn, responses={200: SubscriptionOut})
    def patch(self, request, pk: int):
        sub = get_object_or_404(Subscription, pk=pk)
        data = SubscriptionUpdateIn(data=request.data)
        data.is_valid(raise_exception=True)
        sub = services.subscription_update(subscription=sub, changes=dict(data.validated_data))
        return Response(SubscriptionOut(sub).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        services.subscription_delete(subscription=get_object_or_404(Subscription, pk=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SubscriptionRotateApi(_Ops, APIView):
    """A new signing secret (in this answer only); the previous one keeps signing for the overlap."""

    @extend_schema(request=None, responses={200: SecretOut})
    def post(self, request, pk: int):
        sub = get_object_or_404(Subscription, pk=pk)
        secret = services.subscription_secret_rotate(subscription=sub)
        body = SecretOut({"secret": secret, "previous_secret_expires_at": sub.previous_secret_expires_at}).data
        return Response(body, headers={"Cache-Control": "no-store"})


class SubscriptionDeliveriesApi(_Ops, generics.GenericAPIView):
    serializer_class = DeliveryOut
    queryset = Delivery.objects.none()

    @extend_schema(
        parameters=[OpenApiParameter("status", OpenApiTypes.STR, enum=Delivery.Status.values)],
        responses={200: DeliveryOut(many=True)},
    )
    def get(self, request, pk: int):
        query_params_validate(params=request.query_params, choices={"status": Delivery.Status.values})
        sub = get_object_or_404(Subscription, pk=pk)
        qs = selectors.subscription_deliveries(subscription=sub, status=request.query_params.get("status", ""))
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(DeliveryOut(page, many=True).data)


class DeliveryResendApi(_Ops, APIView):
    """Send a delivered or dead delivery again (same webhook-id, fresh retry budget); 400 while it is open."""

    @extend_schema(request=None, responses={200: DeliveryOut})
    def post(self, request, pk: int):
        delivery = get_object_or_404(Delivery.objects.select_related("event", "order"), pk=pk)
        services.delivery_resend(delivery=delivery)
        return Response(DeliveryOut(delivery).data)
