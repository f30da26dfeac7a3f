"""Reads of orders and channels."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING

from django.db import connection
from django.db.models import Count, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from common.digest_cache import DigestCache, digest_cache_get
from common.rows import sql_prepared_rows
from orders.models import ApiClient, Channel, Customer, FraudSettings, Order, OrderEvent, OrderHold
from orders.shopify import shopify_signature_valid

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


def channel_for_client(*, user: AbstractBaseUser) -> Channel | None:
    """The channel an API-client user is bound to, or None for back-office users."""
    if not user or not user.is_authenticated:
        return None
    cached = getattr(user, "_dom_channel", False)
    if cached is not False:
        return cached
    client = ApiClient.objects.select_related("channel").filter(user=user).first()
    user._dom_channel = client.channel if client else None
    return user._dom_channel


def channel_webhook_secrets(*, channel: Channel, now: datetime | None = None) -> list[str]:
    """The secrets that verify a channel's webhooks now: the current one, and during a rotation's overlap the
    previous one until its retire time (or until it is retired by hand)."""
    secrets = [channel.webhook_secret] if channel.webhook_secret else []
    until = channel.webhook_secret_previous_until
    if channel.webhook_secret_previous and until is not None and (now or timezone.now()) < until:
        secrets.append(channel.webhook_secret_previous)
    return secrets


def channel_webhook_signature_valid(*, channel: Channel, body: bytes, signature: str) -> bool:
    """True when `signature` is the body's HMAC under any secret that verifies the channel's webhooks now."""
    return any(
        shopify_signature_valid(secret=secret, body=body, signature=signature)
        for secret in channel_webhook_secrets(channel=channel)
    )


def channel_secret_status(*, channel: Channel, now: datetime | None = None) -> str:
    """What a screen may say about a channel's webhook secret: whether and when it was set, never the value."""
    if not channel.webhook_secret:
        return "Not set: every webhook delivery is refused."
    when = channel.webhook_secret_set_at
    text = f"Set on {timezone.localtime(when):%Y-%m-%d %H:%M %Z}." if when else "Set."
    until = channel.webhook_secret_previous_until
    if channel.webhook_secret_previous and until is not None and (now or timezone.now()) < until:
        text += f" The previous secret also verifies until {timezone.localtime(until):%Y-%m-%d %H:%M %Z}."
    return text


def fraud_settings_get() -> FraudSettings:
    """The fraud thresholds (the single row, created with defaults when missing)."""
    settings_row, _ = FraudSettings.objects.get_or_create(pk=1)
    return settings_row


def order_find_existing(*, channel: Channel, external_id: str, idempotency_key: str = "") -> Order | None:
    """The order a delivery repeats: same channel and external id, or same channel and idempotency key."""
    cond = Q(external_id=external_id)
    if idempotency_key:
        cond |= Q(idempotency_key=idempotency_key)
    return Order.objects.filter(cond, channel=channel).order_by("pk").first()


def order_list(*, channel: Channel | None = None) -> QuerySet[Order]:
    """Orders for lists (newest first), with what a row shows; only `channel`'s when given."""
    active_holds = (
        OrderHold.objects.filter(order=OuterRef("pk"), released_at__isnull=True)
        .order_by()
        .values("order")
        .annotate(n=Count("pk"))
        .values("n")
    )
    qs = Order.objects.select_related("channel", "customer", "pickup_location").annotate(
        active_holds=Coalesce(Subquery(active_holds), 0)
    )
    if channel is not None:
        qs = qs.filter(channel=channel)
    return qs.order_by("-placed_at", "-pk")


def order_detail(*, pk: int, channel: Channel | None = None) -> Order:
    """One order with its lines, holds, timeline and fulfilment orders; DoesNotExist when not visible."""
    from fulfillment.models import FulfillmentOrder

    qs = Order.objects.select_related("channel", "customer", "pickup_location").prefetch_related(
        "lines__product",
        "holds__released_by",
        Prefetch("events", queryset=OrderEvent.objects.select_related("actor").order_by("created_at", "id")),
        Prefetch(
            "fulfillment_orders",
            queryset=FulfillmentOrder.objects.select_related("location").prefetch_related("lines__order_line"),
        ),
    )
    if channel is not None:
        qs = qs.filter(channel=channel)
    return qs.get(pk=pk)


def hold_queue(*, kind: str | None = None) -> QuerySet[OrderHold]:
    """Active holds, oldest first, with their orders."""
    qs = OrderHold.objects.filter(released_at__isnull=True).select_related("order", "order__channel", "order__customer")
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("created_at", "id")


def hold_counts() -> dict[str, int]:
    """Active holds per kind."""
    return dict(
        OrderHold.objects.filter(released_at__isnull=True).values_list("kind").annotate(n=Count("id")).order_by()
    )


def order_ids_awaiting_routing(*, limit: int = 1000) -> list[int]:
    """Validated orders in the order routing should take them: highest priority, then oldest."""
    return list(
        Order.objects.filter(status=Order.Status.VALIDATED)
        .order_by("-priority", "placed_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def channel_resolve(*, user: AbstractBaseUser, code: str | None) -> Channel | None:
    """The channel a request acts for: an API client is bound to its own channel (naming another is an
    error); back-office users may name any active channel, or none."""
    from django.core.exceptions import ValidationError

    bound = channel_for_client(user=user)
    if bound is not None:
        if code and code != bound.code:
            raise ValidationError({"channel": [f"This API client may only act for channel {bound.code!r}."]})
        return bound
    if not code:
        return None
    channel = Channel.objects.filter(code=code, is_active=True).first()
    if channel is None:
        raise ValidationError({"channel": [f"Unknown or inactive channel {code!r}."]})
    return channel


@dataclass(frozen=True)
class CustomerProfile:
    """What the customer page shows: the customer, their recent orders, figures over all their orders."""

    customer: Customer
    orders: list[Order]
    order_count: int
    open_orders: int
    lifetime_value: Decimal
    returns: list  # returns.models.ReturnAuthorization, newest first


CUSTOMER_ORDERS_SHOWN = 50


def customer_profile(*, pk: int) -> CustomerProfile:
    """One customer's profile; DoesNotExist when there is none. Lifetime value is the sum of the totals of
    their orders that were not cancelled (intake's running `Customer.lifetime_value` also counts orders
    cancelled later)."""
    from returns.selectors import rmas_of_customer

    customer = Customer.objects.select_related("preferred_store").get(pk=pk)
    orders = customer.orders.exclude(status=Order.Status.CANCELLED)
    figures = orders.aggregate(n=Count("pk"), value=Sum("total"))
    recent = list(
        customer.orders.select_related("channel", "pickup_location").order_by("-placed_at", "-pk")[
            :CUSTOMER_ORDERS_SHOWN
        ]
    )
    open_statuses = [
        Order.Status.CREATED,
        Order.Status.VALIDATED,
        Order.Status.ON_HOLD,
        Order.Status.ROUTED,
        Order.Status.BACKORDERED,
        Order.Status.PARTIALLY_SHIPPED,
    ]
    return CustomerProfile(
        customer=customer,
        orders=recent,
        order_count=customer.orders.count(),
        open_orders=customer.orders.filter(status__in=open_statuses).count(),
        lifetime_value=figures["value"] or Decimal("0"),
        returns=list(rmas_of_customer(customer_id=customer.pk)),
    )


def customer_preferred_store_code(*, email: str, channel: Channel | None = None) -> str:
    """The preferred pickup store (its code) of the customer with this e-mail, or "". With `channel`, only a
    customer who has ordered through that channel counts, so a channel never learns about another's
    customers."""
    email = (email or "").strip()
    if not email or len(email) > 254:
        return ""
    customers = Customer.objects.filter(email__iexact=email, preferred_store__isnull=False)
    if channel is not None:
        customers = customers.filter(orders__channel=channel)
    code = customers.values_list("preferred_store__code", flat=True).first()
    return code or ""


@dataclass(frozen=True, slots=True)
class DoorFacts:
    """What the door reads before it writes, in one query: the order a delivery repeats, the new order's
    primary key (PostgreSQL, only when new), and the fraud settings' digest (`fraud_settings_current`)."""

    existing_id: int | None
    next_id: int | None
    fraud_digest: str | None


def order_existing_or_next_id(*, channel: Channel, external_id: str, key: str) -> DoorFacts:
    """The order a delivery repeats — same channel and external id, or same channel and idempotency key —
    or the primary key the new order will take, in the same query, with the fraud settings row's md5 (the
    digest that keeps the per-process copy of the settings current at no extra round trip). PostgreSQL hands
    the key out from the table's sequence only when the order is new; elsewhere the key and digest are None
    (the insert assigns the key, the settings are read every time)."""
    if connection.vendor != "postgresql":
        existing = order_find_existing(channel=channel, external_id=external_id, idempotency_key=key)
        return DoorFacts(existing.pk if existing else None, None, None)
    params = [channel.pk, external_id, *([key] if key else [])]
    return DoorFacts(*sql_prepared_rows(sql=_door_facts_sql(by_key=bool(key)), params=params)[0])


@cache
def _door_facts_sql(*, by_key: bool) -> str:
    table = Order._meta.db_table
    fraud = FraudSettings._meta.db_table
    by_key_sql = " OR idempotency_key = %s" if by_key else ""
    return (
        f"SELECT e.id, CASE WHEN e.id IS NULL THEN nextval(pg_get_serial_sequence('{table}', 'id')) END,"
        f" (SELECT md5(f::text) FROM {fraud} f WHERE f.id = 1)"
        f" FROM (SELECT (SELECT id FROM {table} WHERE channel_id = %s AND (external_id = %s{by_key_sql})"
        " ORDER BY id LIMIT 1) AS id) e"
    )


_FRAUD_SETTINGS = DigestCache(name="fraud settings", load=fraud_settings_get)


def fraud_settings_current(*, digest: str | None) -> FraudSettings:
    """The fraud settings, from this process's copy while `digest` (the row's md5, read by
    `order_existing_or_next_id`) matches the one it was read under; read again when it does not. Read-only:
    the copy is shared by the process's threads."""
    return digest_cache_get(cache=_FRAUD_SETTINGS, digest=digest)


def order_count_recent_at_address(*, addr_key: str, since: datetime) -> int:
    """Orders to this normalised address (orders.checks.address_key) created since `since`; 0 without one."""
    if not addr_key:
        return 0
    return Order.objects.filter(address_key=addr_key, created_at__gte=since).count()
