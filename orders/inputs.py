"""An order as any channel sends it, already parsed: what `orders.services.order_ingest` takes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class LineIn:
    sku: str
    quantity: int
    unit_price: Decimal = Decimal("0")
    name: str = ""
    external_id: str = ""  # the channel's own line id (Shopify: the line item id)


@dataclass(frozen=True, slots=True)
class CustomerIn:
    email: str = ""
    name: str = ""
    phone: str = ""
    external_id: str = ""  # the channel's own customer id


@dataclass(slots=True)
class OrderIn:
    """One order as any channel sends it, already parsed (API serializer, Shopify mapper, CSV rows)."""

    external_id: str
    placed_at: datetime
    lines: list[LineIn]
    customer: CustomerIn | None = None
    shipping_address: dict = field(default_factory=dict)
    billing_address: dict = field(default_factory=dict)
    fulfillment_method: str = "ship"
    pickup_location: str = ""  # location code
    service_level: str = "standard"
    payment_status: str = "pending"
    currency: str = "USD"
    shipping_total: Decimal = Decimal("0")
    tax_total: Decimal = Decimal("0")
    total: Decimal | None = None  # computed from lines + shipping + tax when not given
