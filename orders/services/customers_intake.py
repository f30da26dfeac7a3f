"""The customer of a new order, in one statement: found by email or created, its order count and value
counted, its channel identity and missing name filled in, and the fraud rules' velocity counts read back.

One `INSERT … ON CONFLICT (email) DO UPDATE … RETURNING` replaces a read, an insert, a second read and two
updates per order (`bench door_cost` shows the queries per order). Concurrent orders of one new customer
serialise on the email's unique index: the second sees the first's row and counts itself as the second
order. It runs inside intake's transaction, so a rejected or duplicate order leaves the counters as they were.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache

from django.db import connection
from django.utils import timezone

from common.rows import sql_prepared_rows
from orders.inputs import CustomerIn
from orders.models import Channel, Customer, Order

# Customer.lifetime_value is DECIMAL(12, 2).
LIFETIME_VALUE_CAP = Decimal("9999999999.99")


@dataclass(frozen=True, slots=True)
class CustomerFacts:
    """What intake needs of the order's customer: who, tier, first order or not, and recent orders (velocity)."""

    pk: int
    tier: str
    is_new: bool
    recent_orders: int
    recent_orders_same_address: int


@cache
def _upsert_sql(vendor: str) -> str:
    c, o = Customer._meta.db_table, Order._meta.db_table
    pg = vendor == "postgresql"
    cap = LIFETIME_VALUE_CAP  # a constant of this module, written into the statement
    merge = f"{c}.identities || EXCLUDED.identities" if pg else f"json_patch({c}.identities, EXCLUDED.identities)"
    return (
        f"INSERT INTO {c} (email, name, phone, loyalty_tier, preferred_store_id, order_count, lifetime_value,"
        " identities, created_at)"
        f" VALUES (%s, %s, %s, %s, NULL, 1, %s, {'%s::jsonb' if pg else '%s'}, %s)"
        " ON CONFLICT (email) DO UPDATE SET"
        f" order_count = {c}.order_count + 1,"
        f" lifetime_value = CASE WHEN {c}.lifetime_value + EXCLUDED.lifetime_value > {cap} THEN {cap}"
        f" ELSE {c}.lifetime_value + EXCLUDED.lifetime_value END,"
        f" name = CASE WHEN {c}.name = '' THEN EXCLUDED.name ELSE {c}.name END,"
        f" identities = {merge}"
        f" RETURNING id, loyalty_tier, order_count,"
        f" (SELECT COUNT(*) FROM {o} WHERE {o}.customer_id = {c}.id AND {o}.created_at >= %s),"
        f" (SELECT COUNT(*) FROM {o} WHERE {o}.address_key = %s AND {o}.address_key <> '' AND {o}.created_at >= %s)"
    )


def customer_upsert_counted(
    *, channel: Channel, customer_in: CustomerIn | None, total: Decimal, addr_key: str, since: datetime
) -> CustomerFacts | None:
    """The order's customer (by email, or by the channel's customer id), created when new, with this order
    counted (order count + 1, lifetime value + total, capped at the column); None without either."""
    if customer_in is None:
        return None
    email = (customer_in.email or "").strip().lower()
    if not email:
        facts = {"total": total, "addr_key": addr_key, "since": since}
        return _customer_by_identity(channel=channel, customer_in=customer_in, **facts)
    identities = {channel.code: customer_in.external_id} if customer_in.external_id else {}
    ops = connection.ops
    params = [
        email,
        customer_in.name[:200],
        customer_in.phone[:40],
        str(Customer.Tier.STANDARD),
        ops.adapt_decimalfield_value(min(max(total, Decimal(0)), LIFETIME_VALUE_CAP), 12, 2),
        json.dumps(identities),
        ops.adapt_datetimefield_value(timezone.now()),
        ops.adapt_datetimefield_value(since),
        addr_key,
        ops.adapt_datetimefield_value(since),
    ]
    pk, tier, count, recent, same_address = sql_prepared_rows(sql=_upsert_sql(connection.vendor), params=params)[0]
    return CustomerFacts(pk, tier, count == 1, recent, same_address)


def _customer_by_identity(
    *, channel: Channel, customer_in: CustomerIn, total: Decimal, addr_key: str, since: datetime
) -> CustomerFacts | None:
    """A customer known only by the channel's id (no email): found, never created (there is no key to create
    it under), counted like the email path."""
    from django.db.models import F, Value
    from django.db.models.functions import Least

    from orders.selectors import order_count_recent_at_address

    if not customer_in.external_id:
        return None
    customer = Customer.objects.filter(**{f"identities__{channel.code}": customer_in.external_id}).first()
    if customer is None:
        return None
    is_new = customer.order_count == 0
    update = {
        "order_count": F("order_count") + 1,
        "lifetime_value": Least(F("lifetime_value") + total, Value(LIFETIME_VALUE_CAP)),
    }
    if customer_in.name and not customer.name:
        update["name"] = customer_in.name[:200]
    Customer.objects.filter(pk=customer.pk).update(**update)
    return CustomerFacts(
        customer.pk,
        customer.loyalty_tier,
        is_new,
        Order.objects.filter(customer_id=customer.pk, created_at__gte=since).count(),
        order_count_recent_at_address(addr_key=addr_key, since=since),
    )
