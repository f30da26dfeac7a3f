"""Shopify `orders/create` webhooks: signature check and mapping to an OrderIn (no writes here)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from decimal import Decimal, InvalidOperation

from django.utils.dateparse import parse_datetime

from orders.inputs import CustomerIn, LineIn, OrderIn

# financial_status → our payment status
PAYMENT_STATUS = {
    "authorized": "authorized",
    "paid": "paid",
    "partially_paid": "authorized",
    "pending": "pending",
    "partially_refunded": "partially_refunded",
    "refunded": "refunded",
    "voided": "voided",
    "expired": "failed",
}


class ShopifyPayloadError(Exception):
    """Every problem of a webhook body, as {"field": [messages]} / {"line_items": [{…}, …]} in line order."""

    def __init__(self, errors: dict) -> None:
        self.errors = errors
        super().__init__(str(errors))


def shopify_signature_valid(*, secret: str, body: bytes, signature: str) -> bool:
    """True when `signature` is the base64 HMAC-SHA256 of the raw body with the shared secret (constant time)."""
    if not secret or not signature:
        return False
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(digest), signature.strip().encode())


def shopify_signature(*, secret: str, body: bytes) -> str:
    """The X-Shopify-Hmac-Sha256 value Shopify would send for `body` (tests and tools use it)."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _service_level(shipping_lines: list) -> str:
    text = " ".join(f"{s.get('code') or ''} {s.get('title') or ''}" for s in shipping_lines if isinstance(s, dict))
    text = text.lower()
    if any(w in text for w in ("overnight", "next day", "next-day", "1 day", "one day")):
        return "overnight"
    if any(w in text for w in ("express", "expedited", "2 day", "two day", "priority")):
        return "express"
    return "standard"


def _address(a: dict | None) -> dict:
    if not isinstance(a, dict):
        return {}
    out = {
        "name": a.get("name") or " ".join(x for x in (a.get("first_name"), a.get("last_name")) if x),
        "company": a.get("company") or "",
        "line1": a.get("address1") or "",
        "line2": a.get("address2") or "",
        "city": a.get("city") or "",
        "region": a.get("province_code") or "",
        "postal_code": a.get("zip") or "",
        "country": (a.get("country_code") or "").upper(),
        "phone": a.get("phone") or "",
    }
    for k in ("latitude", "longitude"):
        if a.get(k) not in (None, ""):
            out[k] = a[k]
    return out


def _money(value, where: str, errors: dict) -> Decimal:
    try:
        d = Decimal(str(value if value not in (None, "") else "0"))
    except InvalidOperation:
        errors.setdefault(where, []).append(f"{value!r} is not an amount.")
        return Decimal("0")
    if d < 0:
        errors.setdefault(where, []).append(f"{value} is negative.")
    return d


def shopify_order_input(*, payload) -> OrderIn:
    """Map a Shopify order object to an OrderIn; ShopifyPayloadError naming every problem of the payload.

    Line items without a SKU keep their title and an empty SKU: the order is held as "unknown item", not lost.
    """
    if not isinstance(payload, dict):
        raise ShopifyPayloadError({"detail": ["The webhook body must be a JSON object (a Shopify order)."]})
    errors: dict = {}
    if payload.get("id") in (None, ""):
        errors["id"] = ["The Shopify order id is missing."]
    placed_at = parse_datetime(str(payload.get("created_at") or ""))
    if placed_at is None:
        errors["created_at"] = [f"{payload.get('created_at')!r} is not a date and time."]
    items = payload.get("line_items")
    lines: list[LineIn] = []
    if not isinstance(items, list) or not items:
        errors["line_items"] = ["The order has no line items."]
    else:
        line_errors, bad = [], False
        for item in items:
            e: dict = {}
            if not isinstance(item, dict):
                line_errors.append({"detail": ["A line item must be an object."]})
                bad = True
                continue
            qty = item.get("quantity")
            if not isinstance(qty, int) or isinstance(qty, bool) or qty <= 0:
                e["quantity"] = [f"Quantity must be a positive whole number, got {qty!r}."]
            price = _money(item.get("price"), "price", e)
            if not e:
                lines.append(
                    LineIn(
                        sku=str(item.get("sku") or "").strip(),
                        quantity=qty,
                        unit_price=price,
                        name=str(item.get("name") or item.get("title") or ""),
                    )
                )
            bad |= bool(e)
            line_errors.append(e)
        if bad:
            errors["line_items"] = line_errors
    money_errors: dict = {}
    shipping_total = sum(
        (_money(s.get("price"), "shipping_lines", money_errors) for s in payload.get("shipping_lines") or []),
        Decimal("0"),
    )
    tax = _money(payload.get("total_tax"), "total_tax", money_errors)
    total = _money(payload.get("total_price"), "total_price", money_errors)
    errors.update(money_errors)
    if errors:
        raise ShopifyPayloadError(errors)
    cust = payload.get("customer") if isinstance(payload.get("customer"), dict) else {}
    email = payload.get("email") or payload.get("contact_email") or cust.get("email") or ""
    name = " ".join(x for x in (cust.get("first_name"), cust.get("last_name")) if x)
    return OrderIn(
        external_id=str(payload["id"]),
        placed_at=placed_at,
        lines=lines,
        customer=CustomerIn(
            email=email,
            name=name,
            phone=cust.get("phone") or "",
            external_id=str(cust.get("id") or ""),
        )
        if email or cust.get("id")
        else None,
        shipping_address=_address(payload.get("shipping_address")),
        billing_address=_address(payload.get("billing_address")),
        fulfillment_method="ship",
        service_level=_service_level(payload.get("shipping_lines") or []),
        payment_status=PAYMENT_STATUS.get(str(payload.get("financial_status") or ""), "pending"),
        currency=str(payload.get("currency") or "USD"),
        shipping_total=shipping_total,
        tax_total=tax,
        total=total if payload.get("total_price") not in (None, "") else None,
    )
