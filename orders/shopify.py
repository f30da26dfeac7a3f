"""Shopify `orders/create` webhooks: signature check and mapping to an OrderIn (no writes here)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime
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


def _text(value, where: str, errors: dict) -> str:
    """A text field of the payload: text, a number (ids, zips) as text, or empty; anything else refused."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    errors.setdefault(where, []).append(f"Must be text, got {type(value).__name__}.")
    return ""


def _object(value, where: str, errors: dict) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.setdefault(where, []).append(f"Must be an object, got {type(value).__name__}.")
        return {}
    return value


ADDRESS_FIELDS = {
    "name": "name",
    "company": "company",
    "line1": "address1",
    "line2": "address2",
    "city": "city",
    "region": "province_code",
    "postal_code": "zip",
    "country": "country_code",
    "phone": "phone",
}


def _address(value, where: str, errors: dict) -> dict:
    a = _object(value, where, errors)
    if not a:
        return {}
    out = {key: _text(a.get(src), f"{where}.{src}", errors) for key, src in ADDRESS_FIELDS.items()}
    if not out["name"]:
        names = (_text(a.get(k), f"{where}.{k}", errors) for k in ("first_name", "last_name"))
        out["name"] = " ".join(x for x in names if x)
    out["country"] = out["country"].upper()
    for k in ("latitude", "longitude"):
        v = a.get(k)
        if v in (None, ""):
            continue
        if isinstance(v, int | float | str) and not isinstance(v, bool):
            out[k] = v
        else:
            errors.setdefault(f"{where}.{k}", []).append(f"Must be a number, got {type(v).__name__}.")
    return out


def _money(value, where: str, errors: dict) -> Decimal:
    """An amount as Shopify sends it (a decimal string, sometimes a number); finite, not negative."""
    if value in (None, ""):
        return Decimal("0")
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        errors.setdefault(where, []).append(f"Must be an amount, got {type(value).__name__}.")
        return Decimal("0")
    try:
        if len(str(value)) > 60:
            raise InvalidOperation
        d = Decimal(str(value).strip())
    except InvalidOperation:
        errors.setdefault(where, []).append(f"{str(value)[:60]!r} is not an amount.")
        return Decimal("0")
    if not d.is_finite():
        errors.setdefault(where, []).append(f"{value!r} is not an amount.")
        return Decimal("0")
    if d < 0:
        errors.setdefault(where, []).append(f"{value} is negative.")
    return d


def _placed_at(value, errors: dict):
    """created_at with its UTC offset; a naive or unreadable value is refused (None)."""
    if not isinstance(value, str) or not value.strip():
        errors["created_at"] = [f"{str(value)[:60]!r} is not a date and time."]
        return None
    try:
        placed_at = parse_datetime(value.strip())
    except ValueError:
        placed_at = None
    if placed_at is None:
        errors["created_at"] = [f"{value[:60]!r} is not a date and time."]
    elif placed_at.tzinfo is None:
        errors["created_at"] = [f"{value[:60]!r} has no UTC offset (e.g. 2026-03-02T10:15:00-05:00)."]
        return None
    return placed_at


def _line_items(items, errors: dict) -> list[LineIn]:
    lines: list[LineIn] = []
    if not isinstance(items, list) or not items:
        errors["line_items"] = ["The order has no line items."]
        return lines
    line_errors, bad = [], False
    for item in items:
        e: dict = {}
        if not isinstance(item, dict):
            line_errors.append({"detail": ["A line item must be an object."]})
            bad = True
            continue
        qty = item.get("quantity")
        if not isinstance(qty, int) or isinstance(qty, bool) or qty <= 0:
            e["quantity"] = [f"Quantity must be a positive whole number, got {str(qty)[:40]!r}."]
        price = _money(item.get("price"), "price", e)
        sku = _text(item.get("sku"), "sku", e).strip()
        name = _text(item.get("name"), "name", e) or _text(item.get("title"), "title", e)
        line_id = _text(item.get("id"), "id", e).strip()
        if len(line_id) > 64:
            e["id"] = ["A line item id has at most 64 characters."]
        if not e:
            lines.append(LineIn(sku=sku, quantity=qty, unit_price=price, name=name, external_id=line_id))
        bad |= bool(e)
        line_errors.append(e)
    if bad:
        errors["line_items"] = line_errors
    return lines


def shopify_order_input(*, payload) -> OrderIn:
    """Map a Shopify order object to an OrderIn; ShopifyPayloadError naming every problem of the payload
    (missing values, and values of the wrong type: a `shipping_lines` that is not a list of objects, an id
    that is an object, ...). Sizes and limits are intake's (`orders.services.order_input_errors`).

    Line items without a SKU keep their title and an empty SKU: the order is held as "unknown item", not lost.
    """
    if not isinstance(payload, dict):
        raise ShopifyPayloadError({"detail": ["The webhook body must be a JSON object (a Shopify order)."]})
    errors: dict = {}
    order_id = payload.get("id")
    if order_id in (None, ""):
        errors["id"] = ["The Shopify order id is missing."]
    elif not isinstance(order_id, int | str) or isinstance(order_id, bool):
        errors["id"] = [f"The Shopify order id must be a number or text, got {type(order_id).__name__}."]
    placed_at = _placed_at(payload.get("created_at"), errors)
    lines = _line_items(payload.get("line_items"), errors)
    shipping_lines = payload.get("shipping_lines") or []
    if not isinstance(shipping_lines, list) or not all(isinstance(s, dict) for s in shipping_lines):
        errors["shipping_lines"] = ["Must be a list of shipping line objects."]
        shipping_lines = []
    shipping_total = sum((_money(s.get("price"), "shipping_lines", errors) for s in shipping_lines), Decimal("0"))
    tax = _money(payload.get("total_tax"), "total_tax", errors)
    total = _money(payload.get("total_price"), "total_price", errors)
    cust = _object(payload.get("customer"), "customer", errors)
    email = (
        _text(payload.get("email"), "email", errors)
        or _text(payload.get("contact_email"), "contact_email", errors)
        or _text(cust.get("email"), "customer.email", errors)
    )
    names = [_text(cust.get(k), f"customer.{k}", errors) for k in ("first_name", "last_name")]
    phone = _text(cust.get("phone"), "customer.phone", errors)
    cust_id = cust.get("id")
    if cust_id is not None and (not isinstance(cust_id, int | str) or isinstance(cust_id, bool)):
        errors["customer.id"] = [f"Must be a number or text, got {type(cust_id).__name__}."]
    shipping_address = _address(payload.get("shipping_address"), "shipping_address", errors)
    billing_address = _address(payload.get("billing_address"), "billing_address", errors)
    currency = _text(payload.get("currency"), "currency", errors) or "USD"
    financial_status = _text(payload.get("financial_status"), "financial_status", errors)
    if errors:
        raise ShopifyPayloadError(errors)
    return OrderIn(
        external_id=str(order_id),
        placed_at=placed_at,
        lines=lines,
        customer=CustomerIn(
            email=email,
            name=" ".join(x for x in names if x),
            phone=phone,
            external_id=str(cust_id or ""),
        )
        if email or cust_id
        else None,
        shipping_address=shipping_address,
        billing_address=billing_address,
        fulfillment_method="ship",
        service_level=_service_level(shipping_lines),
        payment_status=PAYMENT_STATUS.get(financial_status, "pending"),
        currency=currency,
        shipping_total=shipping_total,
        tax_total=tax,
        total=total if payload.get("total_price") not in (None, "") else None,
    )


# --- orders/cancelled, orders/updated, orders/edited ------------------------------------------------------

UPDATE_TOPICS = ("orders/cancelled", "orders/updated", "orders/edited")


@dataclass(frozen=True, slots=True)
class ShopifyOrderUpdate:
    """What a Shopify order topic says, parsed (no writes): the order it is about, when Shopify changed it,
    and the state it now has (orders/updated, orders/cancelled) or the edit (orders/edited)."""

    topic: str
    external_id: str
    updated_at: datetime
    cancelled: bool = False
    cancel_reason: str = ""
    shipping_address: dict | None = None
    # orders/updated: units wanted per SKU now (`current_quantity`, else `quantity`), with price and title.
    lines: dict[str, tuple[int, Decimal, str]] | None = None
    # orders/edited: units removed (positive) or added (negative) per Shopify line item id.
    edit_deltas: dict[str, int] = field(default_factory=dict)
    edit_line_items_unknown: tuple[str, ...] = ()


def _when(value, where: str, errors: dict) -> datetime | None:
    when = parse_datetime(value.strip()) if isinstance(value, str) and value.strip() else None
    if when is None or when.tzinfo is None:
        errors[where] = [f"{str(value)[:60]!r} is not a date and time with a UTC offset."]
        return None
    return when


def _wanted_lines(items, errors: dict) -> dict[str, tuple[int, Decimal, str]]:
    if not isinstance(items, list):
        errors["line_items"] = ["Must be a list of line items."]
        return {}
    out: dict[str, tuple[int, Decimal, str]] = {}
    for i, item in enumerate(items[:500]):
        if not isinstance(item, dict):
            errors.setdefault("line_items", []).append(f"Item {i + 1}: must be an object.")
            continue
        qty = item.get("current_quantity", item.get("quantity"))
        if not isinstance(qty, int) or isinstance(qty, bool) or not 0 <= qty <= 100_000:
            errors.setdefault("line_items", []).append(f"Item {i + 1}: quantity {str(qty)[:20]!r} is not a count.")
            continue
        sku = _text(item.get("sku"), f"line_items.{i}.sku", errors).strip()[:64]
        price = _money(item.get("price"), f"line_items.{i}.price", errors)
        name = _text(item.get("name") or item.get("title"), f"line_items.{i}.name", errors)[:255]
        prev = out.get(sku, (0, price, name))
        out[sku] = (prev[0] + qty, price, name)
    return out


def _edit_deltas(edit: dict, errors: dict) -> tuple[dict[str, int], tuple[str, ...]]:
    items = edit.get("line_items")
    items = items if isinstance(items, dict) else {}
    deltas: dict[str, int] = {}
    for kind, sign in (("removals", 1), ("additions", -1)):
        rows = items.get(kind) or []
        if not isinstance(rows, list):
            errors[f"order_edit.line_items.{kind}"] = ["Must be a list."]
            continue
        for row in rows[:500]:
            lid, delta = (row.get("id"), row.get("delta")) if isinstance(row, dict) else (None, None)
            if not isinstance(lid, int | str) or not isinstance(delta, int) or isinstance(delta, bool) or delta < 0:
                errors.setdefault(f"order_edit.line_items.{kind}", []).append("Each needs an id and a delta ≥ 0.")
                continue
            deltas[str(lid)] = deltas.get(str(lid), 0) + sign * delta
    return deltas, ()


def shopify_order_update_input(*, topic: str, payload) -> ShopifyOrderUpdate:
    """Parse an orders/cancelled, orders/updated (a Shopify order object) or orders/edited ({"order_edit": …})
    body; ShopifyPayloadError naming every problem."""
    if topic not in UPDATE_TOPICS:
        raise ShopifyPayloadError({"X-Shopify-Topic": [f"Takes {', '.join(UPDATE_TOPICS)}, not {topic[:60]!r}."]})
    if not isinstance(payload, dict):
        raise ShopifyPayloadError({"detail": ["The webhook body must be a JSON object."]})
    errors: dict = {}
    if topic == "orders/edited":
        edit = _object(payload.get("order_edit"), "order_edit", errors)
        order_id = edit.get("order_id")
        when = _when(edit.get("committed_at") or edit.get("created_at"), "order_edit.created_at", errors)
        deltas, unknown = _edit_deltas(edit, errors)
        id_field = "order_edit.order_id"
    else:
        order_id = payload.get("id")
        when = _when(payload.get("updated_at"), "updated_at", errors)
        id_field = "id"
    if not isinstance(order_id, int | str) or isinstance(order_id, bool) or not str(order_id).strip():
        errors[id_field] = ["The Shopify order id is missing."]
    if errors:
        raise ShopifyPayloadError(errors)
    if topic == "orders/edited":
        return ShopifyOrderUpdate(topic, str(order_id)[:100], when, edit_deltas=deltas, edit_line_items_unknown=unknown)
    cancelled = topic == "orders/cancelled" or bool(payload.get("cancelled_at"))
    reason = _text(payload.get("cancel_reason"), "cancel_reason", errors)[:100]
    address = _address(payload.get("shipping_address"), "shipping_address", errors) or None
    lines = None if topic == "orders/cancelled" else _wanted_lines(payload.get("line_items"), errors)
    if errors:
        raise ShopifyPayloadError(errors)
    return ShopifyOrderUpdate(topic, str(order_id)[:100], when, cancelled, reason, address, lines)
