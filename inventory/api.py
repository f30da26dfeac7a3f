"""Inventory API: master data, availability, reservations. Thin views over selectors and services."""

import re
from datetime import date, timedelta

import django_filters
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api import strict_json_field_mapping
from common.dbrouting import replica_reads
from common.parsers import GuardedJSONParser, json_body_load
from common.query import query_params_validate
from common.roles import API_CLIENT, INVENTORY_MANAGER, OPERATIONS, STAFF_ROLES, HasRole
from common.security import FeedThrottle
from inventory.models import HandlingClass, Location, LocationKind, Product, Reservation
from inventory.selectors import METHODS, UnknownSkus, availability_by_sku, pickup_stores_near
from inventory.services import InsufficientStock, ReserveLine, reservation_release, stock_reserve
from orders.models import Channel
from orders.selectors import channel_for_client, channel_resolve, customer_preferred_store_code

MASTER_DATA_WRITERS = (INVENTORY_MANAGER, API_CLIENT)
READERS = STAFF_ROLES + (API_CLIENT,)


class LocationSerializer(serializers.ModelSerializer):
    serializer_field_mapping = strict_json_field_mapping()
    country = serializers.RegexField(
        r"^[A-Za-z]{2}$", max_length=2, required=False, help_text="ISO 3166-1 alpha-2, e.g. US."
    )
    handling_classes = serializers.ListField(
        child=serializers.ChoiceField(choices=HandlingClass.choices), required=False
    )

    class Meta:
        model = Location
        fields = [
            "code",
            "name",
            "kind",
            "address_line1",
            "city",
            "region",
            "postal_code",
            "country",
            "latitude",
            "longitude",
            "timezone",
            "is_active",
            "can_ship",
            "can_pickup",
            "can_receive_transfers",
            "can_same_day",
            "accepts_returns",
            "sell_online",
            "daily_capacity",
            "handling_classes",
            "cutoff_time",
            "handling_cost_per_order",
            "handling_cost_per_unit",
        ]

    def validate_kind(self, value: str) -> str:
        if value == LocationKind.TRANSIT:
            raise serializers.ValidationError("The transit location is the system's own; choose another kind.")
        return value

    def validate_country(self, value: str) -> str:
        value = value.upper()
        if len(value) != 2 or not value.isalpha():
            raise serializers.ValidationError("Use a two-letter ISO country code, e.g. US.")
        return value

    def validate(self, attrs: dict) -> dict:
        from common.geo import zip_centroid

        country = attrs.get("country", getattr(self.instance, "country", "US"))
        postal = attrs.get("postal_code", getattr(self.instance, "postal_code", ""))
        if country == "US" and "postal_code" in attrs and zip_centroid(postal_code=postal) is None:
            raise serializers.ValidationError({"postal_code": f"{postal!r} is not a known US ZIP code."})
        return attrs


class LocationFilter(django_filters.FilterSet):
    class Meta:
        model = Location
        fields = ["kind", "is_active", "can_ship", "can_pickup", "can_same_day", "accepts_returns", "region"]


class LocationListCreateApi(generics.ListCreateAPIView):
    queryset = Location.objects.all()
    parser_classes = [GuardedJSONParser]  # master data is JSON: a form cannot carry its booleans and lists
    serializer_class = LocationSerializer
    filterset_class = LocationFilter
    permission_classes = [HasRole]
    allowed_roles = MASTER_DATA_WRITERS
    read_roles = READERS


class LocationDetailApi(generics.RetrieveUpdateAPIView):
    queryset = Location.objects.all()
    parser_classes = [GuardedJSONParser]
    serializer_class = LocationSerializer
    lookup_field = "code"
    permission_classes = [HasRole]
    allowed_roles = MASTER_DATA_WRITERS
    read_roles = READERS
    http_method_names = ["get", "patch", "head", "options"]


class ProductSerializer(serializers.ModelSerializer):
    serializer_field_mapping = strict_json_field_mapping()

    class Meta:
        model = Product
        fields = [
            "sku",
            "name",
            "handling_class",
            "weight_grams",
            "returnable",
            "return_window_days",
            "hs_code",
            "country_of_origin",
            "is_active",
        ]


class ProductFilter(django_filters.FilterSet):
    class Meta:
        model = Product
        fields = ["handling_class", "is_active", "returnable"]


class ProductListCreateApi(generics.ListCreateAPIView):
    queryset = Product.objects.all()
    parser_classes = [GuardedJSONParser]  # master data is JSON: form booleans follow checkbox rules, not the schema
    serializer_class = ProductSerializer
    filterset_class = ProductFilter
    permission_classes = [HasRole]
    allowed_roles = MASTER_DATA_WRITERS
    read_roles = READERS


class ProductDetailApi(generics.RetrieveUpdateAPIView):
    queryset = Product.objects.all()
    parser_classes = [GuardedJSONParser]
    serializer_class = ProductSerializer
    lookup_field = "sku"
    lookup_value_regex = "[^/]+"
    permission_classes = [HasRole]
    allowed_roles = MASTER_DATA_WRITERS
    read_roles = READERS
    http_method_names = ["get", "patch", "head", "options"]


def _resolve_channel(request, code: str | None) -> Channel | None:
    return channel_resolve(user=request.user, code=code)


DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_SKUS = 500  # SKUs per availability call: well within Django's 1000 query fields


class AvailabilityApi(APIView):
    """ATS now per SKU, or with `date` the available to promise on that date (inventory.atp: today's ATS plus
    inbound and shipped transfers due by then, less what is promised against inbound); `location` narrows
    both to one location."""

    permission_classes = [HasRole]
    allowed_roles = READERS

    class OutputSerializer(serializers.Serializer):
        class LocationOut(serializers.Serializer):
            location = serializers.CharField()
            available = serializers.IntegerField()
            available_now = serializers.IntegerField(required=False, help_text="With `date`: ATS today.")
            supply = serializers.IntegerField(required=False, help_text="With `date`: units arriving by then.")

        sku = serializers.CharField()
        available = serializers.IntegerField()
        date = serializers.DateField(required=False, help_text="With `date`: the date answered.")
        available_now = serializers.IntegerField(required=False, help_text="With `date`: ATS today.")
        supply = serializers.IntegerField(required=False, help_text="With `date`: units arriving by then.")
        locations = LocationOut(many=True)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "sku",
                {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1, "maxItems": MAX_SKUS},
                required=True,
                style="form",
                explode=True,
                description="Repeat for each SKU.",
            ),
            OpenApiParameter("channel", OpenApiTypes.STR),
            OpenApiParameter("method", OpenApiTypes.STR, enum=list(METHODS)),
            OpenApiParameter(
                "date", OpenApiTypes.DATE, description="Available to promise on this date (today or later)."
            ),
            OpenApiParameter("location", OpenApiTypes.STR, description="One location's figures only."),
        ],
        responses={200: inline_serializer("AvailabilityResponse", {"results": OutputSerializer(many=True)})},
    )
    @replica_reads()
    def get(self, request):
        query_params_validate(
            params=request.query_params, typed=["sku", "date", "location", "channel"], choices={"method": METHODS}
        )
        skus = request.query_params.getlist("sku")
        if not skus:
            return Response({"sku": ["Give at least one ?sku=…"]}, status=status.HTTP_400_BAD_REQUEST)
        if len(skus) > MAX_SKUS:
            return Response({"sku": [f"At most {MAX_SKUS} SKUs per call."]}, status=status.HTTP_400_BAD_REQUEST)
        method = request.query_params.get("method")
        channel = _resolve_channel(request, request.query_params.get("channel"))
        if "date" in request.query_params or "location" in request.query_params:
            return _dated_availability(request, skus=skus, channel=channel, method=method)
        try:
            rows = availability_by_sku(skus=skus, channel=channel, method=method)
        except UnknownSkus as exc:
            return Response({"sku": [f"Unknown SKU {s!r}." for s in exc.skus]}, status=status.HTTP_400_BAD_REQUEST)
        return Response(
            {
                "results": [
                    {
                        "sku": r.sku,
                        "available": r.available,
                        # availability_by_sku lists only locations that can sell at least one unit.
                        "locations": [{"location": la.location_code, "available": la.available} for la in r.locations],
                    }
                    for r in rows
                ]
            }
        )


def _dated_availability(request, *, skus: list[str], channel, method: str | None) -> Response:
    from inventory.api_supply import location_ids_for
    from inventory.atp import DateInPast, availability_on_date

    raw = request.query_params.get("date")
    try:
        on = date.fromisoformat(raw) if raw is not None and DATE_PATTERN.match(raw) else None
    except ValueError:
        on = None
    if raw is not None and on is None:
        return Response({"date": [f"{raw!r} is not a date (YYYY-MM-DD)."]}, status=status.HTTP_400_BAD_REQUEST)
    location_ids = location_ids_for(code=request.query_params.get("location"))
    try:
        rows = availability_on_date(
            skus=skus, on=on or timezone.localdate(), channel=channel, method=method, location_ids=location_ids
        )
    except UnknownSkus as exc:
        return Response({"sku": [f"Unknown SKU {s!r}." for s in exc.skus]}, status=status.HTTP_400_BAD_REQUEST)
    except DateInPast as exc:
        return Response({"date": [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
    return Response(
        {
            "results": [
                {
                    "sku": r.sku,
                    "date": r.on,
                    "available": r.available,
                    "available_now": r.available_now,
                    "supply": r.supply,
                    "locations": [
                        {
                            "location": dl.location_code,
                            "available": dl.available,
                            "available_now": dl.available_now,
                            "supply": dl.supply,
                        }
                        for dl in r.locations
                    ],
                }
                for r in rows
            ]
        }
    )


class PickupAvailabilityApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = READERS

    class InputSerializer(serializers.Serializer):
        sku = serializers.CharField()
        quantity = serializers.IntegerField(min_value=1, default=1)
        postal_code = serializers.CharField()
        radius_km = serializers.FloatField(min_value=0.1, max_value=5000, default=50)
        channel = serializers.CharField(required=False)
        customer = serializers.EmailField(
            required=False, help_text="The customer's e-mail: their preferred store comes first when it can."
        )

    @extend_schema(
        parameters=[InputSerializer],
        responses={
            200: inline_serializer(
                "PickupResponse",
                {
                    "results": inline_serializer(
                        "PickupStore",
                        {
                            "location": serializers.CharField(),
                            "name": serializers.CharField(),
                            "distance_km": serializers.FloatField(),
                            "available": serializers.IntegerField(),
                            "postal_code": serializers.CharField(),
                            "city": serializers.CharField(),
                            "preferred": serializers.BooleanField(),
                        },
                        many=True,
                    )
                },
            )
        },
    )
    @replica_reads()
    def get(self, request):
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        d = params.validated_data
        channel = _resolve_channel(request, d.get("channel"))
        try:
            options = pickup_stores_near(
                sku=d["sku"],
                quantity=d["quantity"],
                postal_code=d["postal_code"],
                radius_km=d["radius_km"],
                channel=channel,
                preferred_location_code=customer_preferred_store_code(email=d.get("customer", ""), channel=channel),
            )
        except UnknownSkus as exc:
            return Response({"sku": [f"Unknown SKU {s!r}." for s in exc.skus]}, status=status.HTTP_400_BAD_REQUEST)
        except ValueError as exc:
            return Response({"postal_code": [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
        return Response(
            {
                "results": [
                    {
                        "location": o.location_code,
                        "name": o.location_name,
                        "distance_km": o.distance_km,
                        "available": o.available,
                        "postal_code": o.postal_code,
                        "city": o.city,
                        "preferred": o.preferred,
                    }
                    for o in options
                ]
            }
        )


class ReservationLineOut(serializers.Serializer):
    id = serializers.IntegerField()
    sku = serializers.CharField(source="product.sku")
    location = serializers.CharField(source="location.code")
    quantity = serializers.IntegerField()


class ReservationOut(serializers.ModelSerializer):
    lines = ReservationLineOut(many=True)
    channel = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Reservation
        fields = ["id", "channel", "reference", "status", "expires_at", "created_at", "lines"]


class ReservationCreateApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = (API_CLIENT, OPERATIONS)

    class InputSerializer(serializers.Serializer):
        class LineIn(serializers.Serializer):
            sku = serializers.CharField()
            quantity = serializers.IntegerField(min_value=1, max_value=100000)
            location = serializers.CharField(required=False, allow_null=True, allow_blank=True)

        channel = serializers.CharField(required=False)
        ttl_seconds = serializers.IntegerField(min_value=1, max_value=30 * 24 * 3600, required=False, allow_null=True)
        reference = serializers.CharField(required=False, allow_blank=True, max_length=100)
        method = serializers.ChoiceField(choices=METHODS, required=False, allow_null=True)
        lines = LineIn(many=True, allow_empty=False, max_length=500)

    @extend_schema(
        request=InputSerializer,
        responses={
            201: ReservationOut,
            409: inline_serializer(
                "ReservationShortage",
                {
                    "shortages": inline_serializer(
                        "Shortage",
                        {
                            "sku": serializers.CharField(),
                            "requested": serializers.IntegerField(),
                            "available": serializers.IntegerField(),
                        },
                        many=True,
                    )
                },
            ),
        },
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        d = data.validated_data
        channel = _resolve_channel(request, d.get("channel"))
        skus = {ln["sku"] for ln in d["lines"]}
        codes = {ln["location"] for ln in d["lines"] if ln.get("location")}
        products = dict(Product.objects.filter(sku__in=skus, is_active=True).values_list("sku", "pk"))
        locations = dict(Location.objects.filter(code__in=codes, is_active=True).values_list("code", "pk"))
        line_errors, any_error = [], False
        for ln in d["lines"]:
            e = {}
            if ln["sku"] not in products:
                e["sku"] = [f"Unknown or inactive SKU {ln['sku']!r}."]
            if ln.get("location") and ln["location"] not in locations:
                e["location"] = [f"Unknown or inactive location {ln['location']!r}."]
            any_error |= bool(e)
            line_errors.append(e)
        if any_error:
            return Response({"lines": line_errors}, status=status.HTTP_400_BAD_REQUEST)
        ttl = d.get("ttl_seconds")
        try:
            reservation = stock_reserve(
                lines=[
                    ReserveLine(
                        product_id=products[ln["sku"]],
                        quantity=ln["quantity"],
                        location_id=locations.get(ln.get("location") or ""),
                    )
                    for ln in d["lines"]
                ],
                channel=channel,
                method=d.get("method"),
                ttl=timedelta(seconds=ttl) if ttl else None,
                reference=d.get("reference", ""),
                actor=request.user,
            )
        except InsufficientStock as exc:
            return Response({"shortages": [s.as_dict() for s in exc.shortages]}, status=status.HTTP_409_CONFLICT)
        reservation = Reservation.objects.prefetch_related("lines__product", "lines__location").get(pk=reservation.pk)
        return Response(ReservationOut(reservation).data, status=status.HTTP_201_CREATED)


class ReservationDetailApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = (API_CLIENT, OPERATIONS)

    def _get(self, request, pk: int) -> Reservation:
        qs = Reservation.objects.prefetch_related("lines__product", "lines__location")
        bound = channel_for_client(user=request.user)
        if bound is not None:
            qs = qs.filter(channel=bound)
        return get_object_or_404(qs, pk=pk)

    @extend_schema(responses={200: ReservationOut})
    def get(self, request, pk: int):
        return Response(ReservationOut(self._get(request, pk)).data)

    @extend_schema(responses={200: ReservationOut})
    def delete(self, request, pk: int):
        reservation = reservation_release(reservation=self._get(request, pk), actor=request.user)
        reservation = self._get(request, reservation.pk)
        return Response(ReservationOut(reservation).data)


class WmsEventIn(serializers.Serializer):
    id = serializers.CharField()
    sequence = serializers.IntegerField(min_value=1)
    sku = serializers.CharField()
    location = serializers.CharField(help_text="The WMS's location code; mapped through the feed's location map.")
    type = serializers.ChoiceField(choices=["adjust", "set", "receive", "ship"])
    quantity = serializers.IntegerField()
    at = serializers.DateTimeField(required=False)


class WmsEventsPushApi(APIView):
    """A WMS pushes stock events. Authenticated by the feed's shared secret (bearer token or HMAC of the
    body), not by a user: the warehouse system is the caller."""

    parser_classes = [GuardedJSONParser]  # JSON only (the body is read raw, then parsed by json_body_load)
    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes = [FeedThrottle]

    class WmsEventsInput(serializers.Serializer):
        events = WmsEventIn(many=True)

    class WmsEventsOutput(serializers.Serializer):
        run = serializers.IntegerField()
        status = serializers.CharField()
        applied = serializers.IntegerField()
        duplicates = serializers.IntegerField()
        stale = serializers.IntegerField()
        gaps = serializers.ListField(child=serializers.ListField(child=serializers.IntegerField()))
        rejected = serializers.ListField(child=serializers.DictField())
        message = serializers.CharField()

    @extend_schema(
        request=WmsEventsInput,
        responses={
            200: WmsEventsOutput,
            400: OpenApiResponse(
                response=OpenApiTypes.OBJECT,
                description="Every event refused (the run's report, as for 200) or the body is not JSON {events}.",
            ),
        },
        parameters=[
            OpenApiParameter("Authorization", OpenApiTypes.STR, OpenApiParameter.HEADER, description="Bearer <secret>"),
            OpenApiParameter(
                "X-DOM-Signature", OpenApiTypes.STR, OpenApiParameter.HEADER, description="sha256=<hex HMAC of body>"
            ),
        ],
    )
    def post(self, request, feed: str):
        from inventory.feeds import FeedAuthError, wms_events_apply, wms_push_authenticate
        from inventory.models import FeedRun, WmsFeed

        wms_feed = WmsFeed.objects.filter(name=feed).first()
        if wms_feed is None:
            return Response({"feed": [f"Unknown feed {feed!r}."]}, status=status.HTTP_404_NOT_FOUND)
        body = request.body
        try:
            wms_push_authenticate(
                feed=wms_feed,
                body=body,
                authorization=request.headers.get("Authorization", ""),
                signature=request.headers.get("X-DOM-Signature", ""),
            )
        except FeedAuthError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_403_FORBIDDEN)
        try:
            payload = json_body_load(body, refuse_nul=False)  # each event's NUL is refused by that event
        except (ParseError, ValidationError) as exc:
            return Response({"events": [f"Not valid JSON: {exc.detail}"]}, status=status.HTTP_400_BAD_REQUEST)
        run = wms_events_apply(feed_id=wms_feed.pk, payload=payload, source="push")
        report = run.report or {}
        data = {
            "run": run.pk,
            "status": run.status,
            "applied": run.rows_applied,
            "duplicates": report.get("duplicates", 0),
            "stale": report.get("stale", 0),
            "gaps": report.get("gaps", []),
            "rejected": report.get("errors", []),
            "message": run.message,
        }
        code = status.HTTP_400_BAD_REQUEST if run.status == FeedRun.Status.REJECTED else status.HTTP_200_OK
        return Response(data, status=code)
