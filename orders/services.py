"""Writes of orders: intake (every channel through `order_ingest`), holds, lifecycle, cancellation.

Lifecycle rule: an order's status changes only here, through `_transition` (one order) or
`orders_status_set_bulk` (a batch), which refuse moves that are not in ALLOWED_TRANSITIONS. Timeline events are
written only through `order_event_add` / `order_events_add_bulk`, order-line counters (allocated, shipped,
cancelled, returned) only through the `order_lines_*` services below.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Value
from django.db.models.functions import Greatest, Least
from django.utils import timezone
from django.utils.module_loading import import_string

from inventory.bulk import model_rows_insert, values_cte
from inventory.models import Location, Product, RefType, Reservation
from inventory.services import reservation_release
from orders.checks import (
    ADDRESS_METHODS,
    PAID_STATUSES,
    FraudFacts,
    address_key,
    address_problems,
    fraud_screen,
    priority_score,
)
from orders.inputs import CustomerIn, OrderIn
from orders.models import Channel, Customer, Order, OrderEvent, OrderHold, OrderLine, SavedOrderFilter
from orders.promise import promise_for
from orders.selectors import fraud_settings_get, order_find_existing
from orders.signals import order_cancelled
from webhooks.services import TimelineRow, webhook_events_emit

logger = logging.getLogger(__name__)

Status = Order.Status
HoldKind = OrderHold.Kind

# Which status may follow which. Everything else is refused.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    Status.CREATED: frozenset({Status.VALIDATED, Status.ON_HOLD, Status.CANCELLED}),
    Status.VALIDATED: frozenset({Status.ROUTED, Status.BACKORDERED, Status.ON_HOLD, Status.CANCELLED}),
    Status.ON_HOLD: frozenset({Status.VALIDATED, Status.CANCELLED}),
    # DELIVERED straight from ROUTED: a pickup order handed over at the counter never "ships".
    Status.ROUTED: frozenset(
        {
            Status.PARTIALLY_SHIPPED,
            Status.SHIPPED,
            Status.DELIVERED,
            Status.BACKORDERED,
            Status.VALIDATED,
            Status.CANCELLED,
        }
    ),
    # A partly backordered order ships what was placed while the rest waits for stock.
    Status.BACKORDERED: frozenset(
        {Status.ROUTED, Status.VALIDATED, Status.ON_HOLD, Status.CANCELLED, Status.PARTIALLY_SHIPPED}
    ),
    Status.PARTIALLY_SHIPPED: frozenset({Status.SHIPPED, Status.DELIVERED, Status.BACKORDERED, Status.ROUTED}),
    Status.SHIPPED: frozenset({Status.DELIVERED, Status.PARTIALLY_RETURNED, Status.RETURNED, Status.CLOSED}),
    Status.DELIVERED: frozenset({Status.PARTIALLY_RETURNED, Status.RETURNED, Status.CLOSED}),
    Status.PARTIALLY_RETURNED: frozenset({Status.RETURNED, Status.CLOSED}),
    Status.RETURNED: frozenset({Status.CLOSED}),
    Status.CLOSED: frozenset(),
    Status.CANCELLED: frozenset(),
}
# Customer.lifetime_value is DECIMAL(12, 2).
LIFETIME_VALUE_CAP = Decimal("9999999999.99")
# Statuses in which a hold can be placed by hand (nothing is reserved or shipped yet, or it is backordered).
HOLDABLE = frozenset({Status.CREATED, Status.VALIDATED, Status.BACKORDERED, Status.ON_HOLD})
# Statuses from which nothing can be cancelled any more.
NOT_CANCELLABLE = frozenset(
    {Status.SHIPPED, Status.DELIVERED, Status.CLOSED, Status.PARTIALLY_RETURNED, Status.RETURNED}
)


# --- Input ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class IngestResult:
    order: Order
    created: bool


@dataclass(frozen=True, slots=True)
class OrderLimits:
    """What one order may hold at every door (settings.DOM ORDER_MAX_*): the columns' sizes, in one place."""

    max_lines: int
    max_quantity: int
    max_amount: Decimal

    @classmethod
    def current(cls) -> OrderLimits:
        dom = settings.DOM
        return cls(
            max_lines=int(dom.get("ORDER_MAX_LINES", 500)),
            max_quantity=int(dom.get("ORDER_MAX_QUANTITY", 100_000)),
            max_amount=Decimal(str(dom.get("ORDER_MAX_AMOUNT", "1000000000"))),
        )


# Text columns an order input is stored in, by OrderIn / CustomerIn field: their sizes.
_ORDER_TEXT = {"external_id": 100, "pickup_location": 32, "currency": 3}
_CUSTOMER_TEXT = {"email": 254, "name": 200, "phone": 40, "external_id": 100}
_LINE_TEXT = {"sku": 64, "name": 255}
EARLIEST_PLACED_AT = datetime(1970, 1, 1, tzinfo=UTC)
MAX_FUTURE = timedelta(days=366)


def _text_problem(value, limit: int) -> str | None:
    if not isinstance(value, str):
        return f"Must be text, got {type(value).__name__}."
    if "\x00" in value:
        return "Null characters are not allowed."
    if len(value) > limit:
        return f"At most {limit} characters (got {len(value)})."
    return None


def _amount_problem(value, limits: OrderLimits) -> str | None:
    if not isinstance(value, Decimal) or not value.is_finite():
        return f"Must be an amount, got {value!r}."
    if value < 0:
        return f"Must be zero or more, got {value}."
    if value > limits.max_amount:
        return f"At most {limits.max_amount:,} (got {value:,.2f})."
    return None


def _placed_at_problem(value) -> str | None:
    if not isinstance(value, datetime) or timezone.is_naive(value):
        return "A date and time with its UTC offset is required, e.g. 2026-03-02T10:15:00Z or +01:00."
    try:
        utc = value.astimezone(UTC)
        latest = timezone.now() + MAX_FUTURE
    except OverflowError:
        return f"{value.isoformat()} is out of range."
    if not EARLIEST_PLACED_AT <= utc <= latest:
        return f"{value.isoformat()} is out of range ({EARLIEST_PLACED_AT:%Y-%m-%d} to a year from now)."
    return None


def _address_problems_by_field(*, name: str, address) -> dict:
    errors: dict = {}
    if not isinstance(address, dict):
        return {name: ["Must be an object."]}
    for key, value in address.items():
        if not isinstance(key, str) or "\x00" in key or len(key) > 40:
            errors.setdefault(name, []).append(f"Unknown field {str(key)[:40]!r}.")
        elif isinstance(value, str) and (problem := _text_problem(value, 200)):
            errors[f"{name}.{key}"] = [problem]
        elif not isinstance(value, str | int | float | type(None)) or isinstance(value, bool):
            errors[f"{name}.{key}"] = [f"Must be text, got {type(value).__name__}."]
    return errors


def _line_problems(*, ln, limits: OrderLimits) -> dict:
    e: dict = {}
    if not isinstance(ln.quantity, int) or isinstance(ln.quantity, bool) or ln.quantity <= 0:
        e["quantity"] = [f"Quantity must be a positive whole number, got {ln.quantity!r}."]
    elif ln.quantity > limits.max_quantity:
        e["quantity"] = [f"At most {limits.max_quantity:,} units per line (got {ln.quantity:,})."]
    if problem := _amount_problem(ln.unit_price, limits):
        e["unit_price"] = [f"Unit price: {problem}"]
    elif not e and ln.unit_price * ln.quantity > limits.max_amount:
        e["quantity"] = [f"Price × quantity is more than {limits.max_amount:,}."]
    for name, limit in _LINE_TEXT.items():
        if problem := _text_problem(getattr(ln, name), limit):
            e[name] = [problem]
    return e


def _lines_problems(*, lines, limits: OrderLimits) -> list | None:
    """The lines' problems in line order ([{...}, {}, ...]), a list of messages about the list, or None."""
    if not isinstance(lines, list) or not lines:
        return ["An order needs at least one line."]
    if len(lines) > limits.max_lines:
        return [f"At most {limits.max_lines} lines per order (got {len(lines)}); split the order."]
    line_errors = [_line_problems(ln=ln, limits=limits) for ln in lines]
    if any(line_errors):
        return line_errors
    subtotal = sum((ln.unit_price * ln.quantity for ln in lines), Decimal("0"))
    if subtotal > limits.max_amount:
        return [f"The lines add up to {subtotal:,.2f}, more than {limits.max_amount:,} per order."]
    return None


def order_input_errors(*, order_in: OrderIn) -> dict:  # noqa: C901
    """Every problem of an order input, as {"field": [messages]} / {"lines": [{…}, …]}; {} if fine. Total:
    every value that reaches a column fits it (text lengths, NUL, amounts, quantities, lines per order, dates),
    so no door (JSON API, Shopify, B2B CSV, direct callers) can get a database error past it."""
    limits = OrderLimits.current()
    errors: dict = {}
    if not str(order_in.external_id or "").strip():
        errors["external_id"] = ["This field is required."]
    for name, limit in _ORDER_TEXT.items():
        if name not in errors and (problem := _text_problem(getattr(order_in, name), limit)):
            errors[name] = [problem]
    if problem := _placed_at_problem(order_in.placed_at):
        errors["placed_at"] = [problem]
    for name, choices in (
        ("fulfillment_method", Order.Method),
        ("service_level", Order.ServiceLevel),
        ("payment_status", Order.PaymentStatus),
    ):
        if getattr(order_in, name) not in choices.values:
            errors[name] = [f"{str(getattr(order_in, name))[:40]!r} is not one of {', '.join(choices.values)}."]
    if "currency" not in errors and (len(order_in.currency) != 3 or not order_in.currency.isalpha()):
        errors["currency"] = ["Use a three-letter ISO currency code, e.g. USD."]
    for name in ("shipping_total", "tax_total", "total"):
        value = getattr(order_in, name)
        if (value is not None or name != "total") and (problem := _amount_problem(value, limits)):
            errors[name] = [problem]
    if order_in.customer is not None:
        for name, limit in _CUSTOMER_TEXT.items():
            if problem := _text_problem(getattr(order_in.customer, name), limit):
                errors[f"customer.{name}"] = [problem]
    for name in ("shipping_address", "billing_address"):
        errors.update(_address_problems_by_field(name=name, address=getattr(order_in, name) or {}))
    if (
        order_in.fulfillment_method in (Order.Method.PICKUP, Order.Method.SHIP_TO_STORE)
        and "pickup_location" not in errors
    ):
        if not order_in.pickup_location:
            errors["pickup_location"] = [f"A {order_in.fulfillment_method} order must name its pickup store."]
        elif not Location.objects.filter(code=order_in.pickup_location).exists():
            errors["pickup_location"] = [f"Unknown location {order_in.pickup_location!r}."]
    if (problems := _lines_problems(lines=order_in.lines, limits=limits)) is not None:
        errors["lines"] = problems
    return errors


def _flat_errors(errors: dict) -> dict[str, list[str]]:
    """Per-line error dicts as sentences naming the line (Django's ValidationError holds strings only)."""
    out: dict[str, list[str]] = {}
    for k, v in errors.items():
        if k == "lines" and any(isinstance(x, dict) for x in v):
            out[k] = [f"Line {i}, {f}: {m}" for i, e in enumerate(v, start=1) for f, ms in e.items() for m in ms]
        else:
            out[k] = list(v)
    return out


# --- Timeline -----------------------------------------------------------------------------------------
def _event_type(type: str) -> str:
    if type not in _EVENT_TYPES:
        raise ValueError(f"Unknown order event type {type!r}: add it to OrderEvent.Type.")
    return type


_EVENT_TYPES = frozenset(OrderEvent.Type.values)


def order_event_add(*, order: Order, type: str, message: str = "", data: dict | None = None, actor=None) -> OrderEvent:
    """Append an entry to the order's timeline (any app may call this); `type` is one of OrderEvent.Type."""
    event = OrderEvent.objects.create(
        order=order,
        type=_event_type(type),
        message=message[:500],
        data=data or {},
        actor=actor if getattr(actor, "pk", None) else None,
    )
    # Every change writes its timeline entry, so this is where the order's `updated_at` moves.
    Order.objects.filter(pk=order.pk).update(updated_at=event.created_at)
    webhook_events_emit(rows=[TimelineRow(order_id=order.pk, type=event.type, data=event.data)])
    return event


def order_events_add_bulk(*, events: list[dict], now: datetime | None = None) -> None:
    """Append many timeline entries in one set-based insert (COPY on PostgreSQL): each event is a dict with
    `order_id`, `type`, and optionally `message`, `data`, `actor_id` (the same rules as `order_event_add`)."""
    rows = [
        {
            "order_id": e["order_id"],
            "type": _event_type(e["type"]),
            "message": (e.get("message") or "")[:500],
            "data": e.get("data") or {},
            "actor_id": e.get("actor_id"),
        }
        for e in events
    ]
    if not rows:
        return
    now = now or timezone.now()
    model_rows_insert(model=OrderEvent, rows=rows, now=now, returning=False)
    Order.objects.filter(pk__in={r["order_id"] for r in rows}).update(updated_at=now)
    webhook_events_emit(
        rows=[TimelineRow(order_id=r["order_id"], type=r["type"], data=r["data"]) for r in rows], now=now
    )


# --- Intake -------------------------------------------------------------------------------------------
def order_ingest(
    *,
    channel: Channel,
    order_in: OrderIn,
    idempotency_key: str = "",
    raw_payload: dict | None = None,
    source: str = "api",
    actor=None,
) -> IngestResult:
    """Take one order from any channel exactly once, check it, screen it, prioritise it.

    The same (channel, external_id), or the same idempotency key on the channel, returns the existing order
    (created=False) and writes nothing, also when deliveries race: the unique constraints decide and the
    loser reads the winner's order. Bad input raises ValidationError naming every problem, nothing stored.
    A valid order ends `validated` (routing is enqueued after commit) or `on_hold` with its reasons.
    """
    errors = order_input_errors(order_in=order_in)
    if not channel.is_active:
        errors["channel"] = [f"Channel {channel.code!r} is not active."]
    if errors:
        raise ValidationError(_flat_errors(errors))
    key = (idempotency_key or "").strip()[:200]
    existing = order_find_existing(channel=channel, external_id=order_in.external_id, idempotency_key=key)
    if existing is not None:
        return IngestResult(existing, False)

    now = timezone.now()
    skus = {ln.sku for ln in order_in.lines if ln.sku}
    products = {p.sku: p for p in Product.objects.filter(sku__in=skus).only("pk", "sku", "is_active")}
    pickup = Location.objects.filter(code=order_in.pickup_location).first() if order_in.pickup_location else None
    subtotal = sum((ln.unit_price * ln.quantity for ln in order_in.lines), Decimal("0"))
    total = order_in.total if order_in.total is not None else subtotal + order_in.shipping_total + order_in.tax_total
    promise = promise_for(
        placed_at=order_in.placed_at,
        service_level=order_in.service_level,
        method=order_in.fulfillment_method,
    )
    holds = _checks_holds(order_in=order_in, products=products, pickup=pickup)
    rules = fraud_settings_get()
    addr_key = address_key(address=order_in.shipping_address)

    try:
        # One transaction (a savepoint inside a caller's). A racing duplicate fails on the unique constraints
        # (PostgreSQL makes it wait for the winner to commit first), everything it wrote rolls back, and it
        # returns the winner's order.
        with transaction.atomic():
            customer, customer_is_new = _customer_upsert(channel=channel, customer_in=order_in.customer)
            facts = _fraud_facts(
                order_in=order_in,
                customer=customer,
                customer_is_new=customer_is_new,
                total=total,
                addr_key=addr_key,
                rules=rules,
                now=now,
            )
            score, reasons = fraud_screen(facts=facts, rules=rules)
            if score >= rules.hold_score:
                holds.append(
                    (
                        HoldKind.FRAUD,
                        f"Fraud score {score} ≥ {rules.hold_score}: " + " ".join(r["reason"] for r in reasons),
                    )
                )
            status = Status.ON_HOLD if holds else Status.VALIDATED
            order = Order.objects.create(
                channel=channel,
                external_id=order_in.external_id,
                idempotency_key=key,
                number=f"tmp-{uuid.uuid4().hex[:28]}",  # replaced by the pk-based number below
                customer=customer,
                status=status,
                placed_at=order_in.placed_at,
                currency=order_in.currency.upper(),
                subtotal=subtotal,
                shipping_total=order_in.shipping_total,
                tax_total=order_in.tax_total,
                total=total,
                shipping_address=order_in.shipping_address or {},
                billing_address=order_in.billing_address or {},
                address_key=addr_key,
                fulfillment_method=order_in.fulfillment_method,
                pickup_location=pickup,
                service_level=order_in.service_level,
                payment_status=order_in.payment_status,
                promised_delivery_date=promise.promised_delivery_date,
                ship_by=promise.ship_by,
                priority=priority_score(
                    ship_by=promise.ship_by,
                    now=now,
                    tier=customer.loyalty_tier if customer else "standard",
                    total=total,
                ),
                fraud_score=score,
                fraud_reasons=reasons,
                raw_payload=raw_payload or {},
            )
            order.number = f"{settings.DOM.get('ORDER_NUMBER_PREFIX', 'DOM')}-{order.pk:07d}"
            Order.objects.filter(pk=order.pk).update(number=order.number)
            OrderLine.objects.bulk_create(
                [
                    OrderLine(
                        order=order,
                        line_number=i,
                        product=products.get(ln.sku),
                        sku=ln.sku,
                        name=ln.name[:255],
                        external_id=ln.external_id[:64],
                        quantity=ln.quantity,
                        unit_price=ln.unit_price,
                    )
                    for i, ln in enumerate(order_in.lines, start=1)
                ]
            )
            if customer is not None:
                # Capped at what the column holds: a customer's value is a screening signal, not a ledger.
                Customer.objects.filter(pk=customer.pk).update(
                    order_count=F("order_count") + 1,
                    lifetime_value=Least(F("lifetime_value") + total, Value(LIFETIME_VALUE_CAP)),
                )
            if holds:
                OrderHold.objects.bulk_create([OrderHold(order=order, kind=k, reason=r) for k, r in holds])
            intake = OrderEvent.objects.bulk_create(
                _intake_events(
                    order=order,
                    source=source,
                    key=key,
                    score=score,
                    reasons=reasons,
                    holds=holds,
                    actor=actor if getattr(actor, "pk", None) else None,
                )
            )
            webhook_events_emit(rows=[TimelineRow(order_id=order.pk, type=e.type, data=e.data) for e in intake])
            if status == Status.VALIDATED:
                order_routing_enqueue(order_id=order.pk)
    except IntegrityError:
        existing = order_find_existing(channel=channel, external_id=order_in.external_id, idempotency_key=key)
        if existing is None:
            raise
        return IngestResult(existing, False)
    return IngestResult(order, True)


def _intake_events(*, order: Order, source: str, key: str, score: int, reasons: list, holds: list, actor) -> list:
    """The timeline of a new order: received, screened, each hold, and created → validated / on hold."""
    events = [
        OrderEvent(
            order=order,
            type="received",
            message=f"Received from {order.channel.code} ({source}) as {order.external_id}.",
            data={"source": source, "external_id": order.external_id, "idempotency_key": key},
            actor=actor,
        ),
        OrderEvent(
            order=order,
            type="screened",
            message=f"Fraud score {score}; priority {order.priority}; ship by {order.ship_by:%Y-%m-%d %H:%M %Z}.",
            data={"fraud_score": score, "fraud_reasons": reasons, "priority": order.priority},
        ),
    ]
    events += [
        OrderEvent(order=order, type="hold_placed", message=f"{HoldKind(k).label} hold: {r}"[:500], data={"kind": k})
        for k, r in holds
    ]
    events.append(
        OrderEvent(
            order=order,
            type="status_changed",
            message=f"{Status.CREATED.label} → {Status(order.status).label}.",
            data={"from": Status.CREATED.value, "to": order.status},
            actor=actor,
        )
    )
    return events


def _checks_holds(*, order_in: OrderIn, products: dict, pickup: Location | None) -> list[tuple[str, str]]:
    """The validation checks of a new order, as (hold kind, reason) pairs."""
    holds: list[tuple[str, str]] = []
    unknown = []
    for i, ln in enumerate(order_in.lines, start=1):
        product = products.get(ln.sku)
        if not ln.sku:
            unknown.append(f"line {i} ({ln.name or 'untitled'}) has no SKU")
        elif product is None:
            unknown.append(f"SKU {ln.sku!r} (line {i}) is not in the catalogue")
        elif not product.is_active:
            unknown.append(f"SKU {ln.sku!r} (line {i}) is inactive")
    if unknown:
        holds.append((HoldKind.UNKNOWN_ITEM, "; ".join(unknown) + "."))
    if order_in.fulfillment_method in ADDRESS_METHODS:
        problems = address_problems(address=order_in.shipping_address)
        if problems:
            holds.append((HoldKind.ADDRESS, " ".join(problems)))
    elif pickup is not None and not (pickup.is_active and pickup.can_pickup):
        holds.append((HoldKind.ADDRESS, f"{pickup.code} does not offer pickup (inactive or pickup switched off)."))
    if order_in.payment_status not in PAID_STATUSES:
        holds.append((HoldKind.PAYMENT, f"Payment is {order_in.payment_status}, not authorised or paid."))
    return holds


def _customer_upsert(*, channel: Channel, customer_in: CustomerIn | None) -> tuple[Customer | None, bool]:
    """The customer by email (or by the channel's customer id), created when new; (customer, had no orders)."""
    if customer_in is None:
        return None, True
    email = (customer_in.email or "").strip().lower()
    customer = None
    if email:
        customer = Customer.objects.filter(email=email).first()
        if customer is None:
            # INSERT … ON CONFLICT DO NOTHING, then read: no savepoint, and a racing insert of the same email
            # simply leaves the winner's row.
            Customer.objects.bulk_create(
                [Customer(email=email, name=customer_in.name[:200], phone=customer_in.phone[:40])],
                ignore_conflicts=True,
            )
            customer = Customer.objects.get(email=email)
    elif customer_in.external_id:
        customer = Customer.objects.filter(**{f"identities__{channel.code}": customer_in.external_id}).first()
    if customer is None:
        return None, True
    changed = []
    if customer_in.external_id and customer.identities.get(channel.code) != customer_in.external_id:
        customer.identities = {**customer.identities, channel.code: customer_in.external_id}
        changed.append("identities")
    if customer_in.name and not customer.name:
        customer.name = customer_in.name[:200]
        changed.append("name")
    if changed:
        customer.save(update_fields=changed)
    return customer, customer.order_count == 0


def _fraud_facts(
    *, order_in: OrderIn, customer, customer_is_new: bool, total: Decimal, addr_key: str, rules, now: datetime
) -> FraudFacts:
    since = now - timedelta(minutes=rules.velocity_window_minutes)
    # One query for both counts; an order with neither a customer nor an address has nothing to count.
    by_email = Q(customer=customer) if customer else Q(pk=None)
    by_address = Q(address_key=addr_key) if addr_key else Q(pk=None)
    same_email = same_address = 0
    if customer or addr_key:
        counts = Order.objects.filter(by_email | by_address, created_at__gte=since).aggregate(
            email=Count("pk", filter=by_email), address=Count("pk", filter=by_address)
        )
        same_email, same_address = counts["email"], counts["address"]
    return FraudFacts(
        total=total,
        is_new_customer=customer_is_new,
        shipping_address=order_in.shipping_address or {},
        billing_address=order_in.billing_address or {},
        skus=tuple(ln.sku for ln in order_in.lines if ln.sku),
        recent_orders_same_email=same_email,
        recent_orders_same_address=same_address,
    )


# --- Lifecycle ----------------------------------------------------------------------------------------
def _transition(*, order: Order, to: str, actor=None, message: str = "", data: dict | None = None) -> bool:
    """Move a (locked or just created) order to `to`, writing the timeline; False when already there."""
    frm = order.status
    if frm == to:
        return False
    if to not in ALLOWED_TRANSITIONS[frm]:
        raise ValidationError(
            f"Order {order.number} cannot go from {Status(frm).label.lower()} to {Status(to).label.lower()}."
        )
    order.status = to
    Order.objects.filter(pk=order.pk).update(status=to, updated_at=timezone.now())
    order_event_add(
        order=order,
        type="status_changed",
        message=message or f"{Status(frm).label} → {Status(to).label}.",
        data={"from": frm, "to": to, **(data or {})},
        actor=actor,
    )
    if to == Status.VALIDATED:
        order_routing_enqueue(order_id=order.pk)
    return True


def _lock(order: Order) -> Order:
    return Order.objects.select_for_update(of=("self",)).get(pk=order.pk)


def order_status_set(*, order: Order, status: str, actor=None, message: str = "", data: dict | None = None) -> Order:
    """Move an order to `status` if the lifecycle allows it (routing and fulfilment call this).

    Raises ValidationError for a move the lifecycle forbids, and when leaving a hold while holds are active.
    Setting the status the order already has changes nothing and writes no event.
    """
    with transaction.atomic():
        locked = _lock(order)
        if (
            locked.status == Status.ON_HOLD
            and status != Status.CANCELLED
            and locked.holds.filter(released_at__isnull=True).exists()
        ):
            raise ValidationError(f"Order {locked.number} has active holds; release them first.")
        _transition(order=locked, to=status, actor=actor, message=message, data=data)
    order.status = locked.status
    return locked


def orders_status_set_bulk(*, paths: dict[int, tuple[str, ...]], now: datetime | None = None) -> int:
    """Move many (already locked) orders along their paths of statuses (usually one step; routing takes a
    created order through validated), every step checked against ALLOWED_TRANSITIONS, in one statement per
    final status; a step to the status the order is already in is skipped. Writes no timeline entry: the
    caller writes the one event that explains the move (routing's "routed"/"backordered").
    Raises ValidationError naming every refused move, before anything is written. Returns orders moved."""
    current = dict(Order.objects.filter(pk__in=list(paths)).values_list("pk", "status"))
    refused, by_target = [], {}
    for pk, path in paths.items():
        frm = start = current.get(pk)
        if frm is None:
            refused.append(f"Order {pk} does not exist.")
            continue
        for to in path:
            if frm != to and to not in ALLOWED_TRANSITIONS[frm]:
                label = f"{Status(frm).label.lower()} to {Status(to).label.lower()}"
                refused.append(f"Order {pk} cannot go from {label}.")
                break
            frm = to
        else:
            if frm != start:
                by_target.setdefault(frm, []).append(pk)
    if refused:
        raise ValidationError(refused)
    stamp = now or timezone.now()
    return sum(
        Order.objects.filter(pk__in=pks).update(status=to, updated_at=stamp) for to, pks in sorted(by_target.items())
    )


def orders_allocation_status_apply(*, order_ids: list[int], statuses_from: tuple[str, ...], now=None) -> int:
    """After allocation changed: each order in one of `statuses_from` becomes backordered while any unit is
    neither allocated nor cancelled, else routed (through `orders_status_set_bulk`; a created order passes
    through validated)."""
    open_line = OrderLine.objects.filter(
        order_id=OuterRef("pk"), quantity__gt=F("quantity_allocated") + F("quantity_cancelled")
    )
    rows = (
        Order.objects.filter(pk__in=order_ids, status__in=statuses_from)
        .annotate(open=Exists(open_line))
        .values_list("pk", "status", "open")
    )
    paths = {}
    for pk, status, is_open in rows:
        target = Status.BACKORDERED if is_open else Status.ROUTED
        paths[pk] = (Status.VALIDATED, target) if status == Status.CREATED else (target,)
    return orders_status_set_bulk(paths=paths, now=now)


def _order_lines_add(*, column: str, amounts: dict[int, int]) -> int:
    """column += amount for each order line id (negative amounts subtract), one statement per 1,000 lines;
    returns lines updated. The table's check constraints keep every counter within the line's quantity."""
    table = connection.ops.quote_name(OrderLine._meta.db_table)
    col = connection.ops.quote_name(column)
    done = 0
    items = sorted((k, v) for k, v in amounts.items() if v)
    for start in range(0, len(items), 1000):
        chunk = items[start : start + 1000]
        cte, params = values_cte(rows=chunk, columns=("id", "amount"))
        with connection.cursor() as cur:
            cur.execute(f"{cte} UPDATE {table} SET {col} = {col} + v.amount FROM v WHERE {table}.id = v.id", params)
            done += cur.rowcount if cur.rowcount >= 0 else len(chunk)
    return done


def order_lines_allocated_add(*, amounts: dict[int, int]) -> int:
    """Allocated units go up (routing placed them) or down (negative: released from a location)."""
    return _order_lines_add(column="quantity_allocated", amounts=amounts)


def order_lines_allocated_release(*, amounts: dict[int, int]) -> None:
    """Allocated units go down, never below zero (units reported short are no longer allocated anywhere)."""
    for pk, q in sorted(amounts.items()):
        OrderLine.objects.filter(pk=pk).update(quantity_allocated=Greatest(F("quantity_allocated") - q, 0))


def order_lines_cancelled_add(*, amounts: dict[int, int]) -> None:
    """Cancelled units go up (per order line id)."""
    for pk, q in sorted(amounts.items()):
        if q > 0:
            OrderLine.objects.filter(pk=pk).update(quantity_cancelled=F("quantity_cancelled") + q)


def order_lines_shipped_set(*, shipped: dict[int, int]) -> None:
    """Set each order line's shipped units (derived by fulfilment from its fulfilment orders)."""
    for pk, q in sorted(shipped.items()):
        OrderLine.objects.filter(pk=pk).update(quantity_shipped=q)


def order_lines_returned_add(*, amounts: dict[int, int]) -> None:
    """Returned units go up (per order line id), never past shipped (the table's check constraint)."""
    for pk, q in sorted(amounts.items()):
        if q > 0:
            OrderLine.objects.filter(pk=pk).update(quantity_returned=F("quantity_returned") + q)


def order_routing_task() -> str | None:
    """The dotted path of the routing task when it is configured and importable, else None (orders wait)."""
    path = settings.DOM.get("ROUTE_ORDER_TASK")
    if not path:
        return None
    try:
        import_string(path)
    except ImportError:
        return None
    return path


def order_routing_enqueue(*, order_id: int) -> bool:
    """Queue routing for the order once the current transaction commits; False when no routing task exists."""
    path = order_routing_task()
    if path is None:
        return False
    from django_q.tasks import async_task

    transaction.on_commit(lambda: async_task(path, order_id))
    return True


# --- Holds --------------------------------------------------------------------------------------------
def order_hold_place(*, order: Order, kind: str, reason: str, actor=None) -> OrderHold:
    """Put an order on hold (by hand, or by another app), with a reason in the timeline."""
    if kind not in HoldKind.values:
        raise ValidationError({"kind": [f"Unknown hold kind {kind!r}."]})
    if not reason.strip():
        raise ValidationError({"reason": ["Say why the order is held."]})
    with transaction.atomic():
        locked = _lock(order)
        if locked.status not in HOLDABLE:
            raise ValidationError(f"Order {locked.number} is {locked.get_status_display().lower()}; it cannot be held.")
        hold = OrderHold.objects.create(order=locked, kind=kind, reason=reason)
        order_event_add(
            order=locked,
            type="hold_placed",
            message=f"{HoldKind(kind).label} hold: {reason}",
            data={"kind": kind, "hold_id": hold.pk},
            actor=actor,
        )
        _transition(order=locked, to=Status.ON_HOLD, actor=actor)
    return hold


def order_hold_release(*, hold: OrderHold, actor, note: str = "") -> Order:
    """Release one hold (Operations). When it was the last one the order becomes validated and is routed.

    An unknown-item hold is released only once every line's SKU is a known, active product (they are linked
    then); otherwise ValidationError names the SKUs still unknown. Releasing a released hold changes nothing.
    """
    with transaction.atomic():
        order = _lock(hold.order)
        hold = OrderHold.objects.select_for_update().get(pk=hold.pk)
        if hold.released_at is not None:
            return order
        if order.status == Status.CANCELLED:
            raise ValidationError(f"Order {order.number} is cancelled; its holds are closed.")
        if hold.kind == HoldKind.UNKNOWN_ITEM:
            _lines_link_products(order=order)
        hold.released_at = timezone.now()
        hold.released_by = actor if getattr(actor, "pk", None) else None
        hold.resolution = OrderHold.Resolution.RELEASED
        hold.note = note[:500]
        hold.save(update_fields=["released_at", "released_by", "resolution", "note"])
        order_event_add(
            order=order,
            type="hold_released",
            message=f"{hold.get_kind_display()} hold released" + (f": {note}" if note else "."),
            data={"kind": hold.kind, "hold_id": hold.pk},
            actor=actor,
        )
        if order.status == Status.ON_HOLD and not order.holds.filter(released_at__isnull=True).exists():
            _transition(order=order, to=Status.VALIDATED, actor=actor, message="All holds released.")
    return order


def _lines_link_products(*, order: Order) -> None:
    lines = list(order.lines.select_for_update().order_by("pk"))
    skus = {ln.sku for ln in lines if ln.sku}
    products = {p.sku: p for p in Product.objects.filter(sku__in=skus, is_active=True)}
    missing = [
        f"line {ln.line_number} has no SKU" if not ln.sku else f"SKU {ln.sku!r}"
        for ln in lines
        if ln.sku not in products
    ]
    if missing:
        raise ValidationError(
            f"Cannot release: {', '.join(missing)} still unknown or inactive. Add the product or cancel the order."
        )
    for ln in lines:
        if ln.product_id != products[ln.sku].pk:
            ln.product = products[ln.sku]
            ln.save(update_fields=["product"])


# --- Cancellation -------------------------------------------------------------------------------------
def order_cancel(*, order: Order, actor, reason: str) -> Order:
    """Cancel what has not shipped: lines' open units become cancelled, the order's active reservations
    (reference "order:<pk>") are released, active holds close, and `order_cancelled` is sent (fulfilment
    cancels its open work) — all in one transaction. A partly shipped order ends `shipped`; otherwise
    `cancelled`. Cancelling a cancelled order changes nothing; a fully shipped one cannot be cancelled."""
    if not (reason or "").strip():
        raise ValidationError({"reason": ["Say why the order is cancelled."]})
    with transaction.atomic():
        locked = _lock(order)
        if locked.status == Status.CANCELLED:
            return locked
        if locked.status in NOT_CANCELLABLE:
            raise ValidationError(
                f"Order {locked.number} is {locked.get_status_display().lower()}; nothing is left to cancel."
            )
        released = []
        for res in Reservation.objects.filter(
            ref_type=RefType.ORDER, ref_id=locked.pk, status=Reservation.Status.ACTIVE
        ).order_by("pk"):
            reservation_release(reservation=res, actor=actor, reference=f"order:{locked.pk} cancelled")
            released.append(res.pk)
        cancelled, cancelled_lines = {}, []
        lines = list(locked.lines.select_for_update().order_by("pk"))
        for ln in lines:
            open_units = ln.quantity - ln.quantity_shipped - ln.quantity_cancelled
            if open_units > 0:
                ln.quantity_cancelled += open_units
                cancelled[str(ln.line_number)] = open_units
                cancelled_lines.append({"line_number": ln.line_number, "sku": ln.sku, "quantity": open_units})
            ln.quantity_allocated = min(ln.quantity_allocated, ln.quantity_shipped)
        OrderLine.objects.bulk_update(lines, ["quantity_cancelled", "quantity_allocated"])
        now = timezone.now()
        OrderHold.objects.filter(order=locked, released_at__isnull=True).update(
            released_at=now,
            released_by=actor if getattr(actor, "pk", None) else None,
            resolution=OrderHold.Resolution.CANCELLED,
            note=reason[:500],
        )
        locked.cancel_reason = reason[:500]
        Order.objects.filter(pk=locked.pk).update(cancel_reason=locked.cancel_reason, updated_at=now)
        order_event_add(
            order=locked,
            type="cancelled",
            message=f"Cancelled: {reason}",
            data={
                "cancelled_units_by_line": cancelled,
                "released_reservations": released,
                "reason": locked.cancel_reason,
                "lines": cancelled_lines,
                "units": sum(cancelled.values()),
            },
            actor=actor,
        )
        any_shipped = any(ln.quantity_shipped for ln in lines)
        _transition(
            order=locked,
            to=Status.SHIPPED if any_shipped else Status.CANCELLED,
            actor=actor,
            message="Unshipped remainder cancelled." if any_shipped else "",
        )
        order_cancelled.send(sender=Order, order=locked, actor=actor)
    return locked


# --- Priority -----------------------------------------------------------------------------------------
def order_priorities_refresh(*, now: datetime | None = None, batch: int = 5000) -> int:
    """Recompute the priority of orders waiting for routing (time to ship-by shrinks as they wait).
    Idempotent; returns how many changed."""
    now = now or timezone.now()
    waiting = (
        Order.objects.filter(status__in=[Status.VALIDATED, Status.ON_HOLD, Status.BACKORDERED])
        .select_related("customer")
        .only("pk", "priority", "ship_by", "total", "customer__loyalty_tier")
        .order_by("pk")[:batch]
    )
    changed = []
    for order in waiting:
        p = priority_score(
            ship_by=order.ship_by,
            now=now,
            tier=order.customer.loyalty_tier if order.customer else "standard",
            total=order.total,
        )
        if p != order.priority:
            order.priority = p
            changed.append(order)
    Order.objects.bulk_update(changed, ["priority"], batch_size=500)
    return len(changed)


# --- B2B CSV ------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CsvImportResult:
    created: list[Order]
    existing: list[Order]


def order_csv_import(*, channel: Channel, text: str, actor=None) -> CsvImportResult:
    """Import B2B orders from CSV text (one order per external_id group) through `order_ingest`, all or
    nothing: any bad row raises CsvOrderErrors naming every row and field, and nothing is stored.
    Orders already taken (same external_id on the channel) are reported as existing, not duplicated."""
    from orders.csv_orders import CsvOrderErrors, RowError, csv_orders_parse

    parsed = csv_orders_parse(text=text)
    created, existing = [], []
    with transaction.atomic():
        errors = []
        for item in parsed:
            try:
                result = order_ingest(channel=channel, order_in=item.order_in, source="csv", actor=actor)
            except ValidationError as exc:
                details = exc.message_dict if hasattr(exc, "error_dict") else {"order": exc.messages}
                errors += [RowError(item.first_row, f, str(m)) for f, msgs in details.items() for m in msgs]
                continue
            (created if result.created else existing).append(result.order)
        if errors:
            raise CsvOrderErrors(errors)
    return CsvImportResult(created=created, existing=existing)


# --- Channel webhook secrets -----------------------------------------------------------------------------
SECRET_MIN_LENGTH = 16


def channel_secret_clean(*, new_secret: str) -> str:
    """The secret to store (spaces at the ends dropped), or ValidationError naming `new_secret`."""
    secret = (new_secret or "").strip()
    if not SECRET_MIN_LENGTH <= len(secret) <= 200:
        raise ValidationError({"new_secret": f"A webhook secret has {SECRET_MIN_LENGTH} to 200 characters."})
    return secret


def channel_secret_rotate(
    *, channel: Channel, new_secret: str, actor=None, overlap: timedelta | None = None
) -> Channel:
    """Set or rotate a channel's webhook secret. The current secret (if any) becomes the previous one and
    keeps verifying for `overlap` (default: the DOM["CHANNEL_SECRET_OVERLAP_HOURS"] setting; zero: not at all)
    or until `channel_secret_retire_previous`. Secret values are never logged or returned."""
    secret = channel_secret_clean(new_secret=new_secret)
    if overlap is None:
        overlap = timedelta(hours=settings.DOM["CHANNEL_SECRET_OVERLAP_HOURS"])
    now = timezone.now()
    with transaction.atomic():
        locked = Channel.objects.select_for_update().get(pk=channel.pk)
        if secret in (locked.webhook_secret, locked.webhook_secret_previous):
            raise ValidationError({"new_secret": "Choose a secret this channel has not used in its last rotation."})
        keep_old = bool(locked.webhook_secret) and overlap > timedelta(0)
        locked.webhook_secret_previous = locked.webhook_secret if keep_old else ""
        locked.webhook_secret_previous_until = now + overlap if keep_old else None
        locked.webhook_secret = secret
        locked.webhook_secret_set_at = now
        locked.save(
            update_fields=[
                "webhook_secret",
                "webhook_secret_set_at",
                "webhook_secret_previous",
                "webhook_secret_previous_until",
            ]
        )
    logger.info("Channel %s: webhook secret %s by %s.", locked.code, "rotated" if keep_old else "set", actor)
    _channel_copy_secret_fields(source=locked, target=channel)
    return channel


def channel_secret_retire_previous(*, channel: Channel, actor=None) -> Channel:
    """Stop accepting the previous webhook secret now (the end of a rotation's overlap)."""
    with transaction.atomic():
        locked = Channel.objects.select_for_update().get(pk=channel.pk)
        locked.webhook_secret_previous = ""
        locked.webhook_secret_previous_until = None
        locked.save(update_fields=["webhook_secret_previous", "webhook_secret_previous_until"])
    logger.info("Channel %s: previous webhook secret retired by %s.", locked.code, actor)
    _channel_copy_secret_fields(source=locked, target=channel)
    return channel


def _channel_copy_secret_fields(*, source: Channel, target: Channel) -> None:
    for name in ("webhook_secret", "webhook_secret_set_at", "webhook_secret_previous", "webhook_secret_previous_until"):
        setattr(target, name, getattr(source, name))


# ---------------------------------------------------------------------------------------------------------
# The orders list: saved filters and bulk actions

SAVED_FILTER_FIELDS = ("q", "channel", "status", "fulfillment_method", "hold", "placed_from", "placed_to")
BULK_MAX = 500


def order_filter_save(*, user, name: str, query: dict[str, str]) -> SavedOrderFilter:
    """Save (or replace) the user's filter `name` with the list's filter fields only (no page, no junk)."""
    from urllib.parse import urlencode

    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": ["Name the filter, e.g. “Web orders on hold”."]})
    if len(name) > 80:
        raise ValidationError({"name": ["A filter name has at most 80 characters."]})
    kept = {k: str(query[k])[:200] for k in SAVED_FILTER_FIELDS if query.get(k)}
    saved, _ = SavedOrderFilter.objects.update_or_create(user=user, name=name, defaults={"query": urlencode(kept)})
    return saved


def order_filter_delete(*, user, filter_id: int) -> None:
    SavedOrderFilter.objects.filter(user=user, pk=filter_id).delete()


@dataclass(slots=True)
class BulkResult:
    done: list[str]
    skipped: list[tuple[str, str]]  # (order number, why)


def _bulk_orders(order_ids: list[int]) -> list[Order]:
    if not order_ids:
        raise ValidationError({"order": ["Tick at least one order."]})
    if len(order_ids) > BULK_MAX:
        raise ValidationError({"order": [f"At most {BULK_MAX} orders at a time."]})
    return list(Order.objects.filter(pk__in=order_ids).order_by("placed_at", "pk"))


def orders_bulk_holds_release(*, order_ids: list[int], actor) -> BulkResult:
    """Release every active hold of each order (each through order_hold_release, so the last release
    routes the order). An order whose hold cannot be released yet is skipped with the reason."""
    result = BulkResult(done=[], skipped=[])
    for order in _bulk_orders(order_ids):
        holds = list(OrderHold.objects.filter(order=order, released_at__isnull=True))
        if not holds:
            result.skipped.append((order.number, "no active hold"))
            continue
        try:
            for hold in holds:
                order_hold_release(hold=hold, actor=actor, note="released from the orders list")
        except ValidationError as exc:
            result.skipped.append((order.number, " ".join(exc.messages)))
        else:
            result.done.append(order.number)
    return result


def orders_bulk_cancel(*, order_ids: list[int], actor, reason: str) -> BulkResult:
    """Cancel each order through order_cancel; orders that cannot be cancelled are skipped with why."""
    if not (reason or "").strip():
        raise ValidationError({"reason": ["Say why the orders are cancelled."]})
    result = BulkResult(done=[], skipped=[])
    for order in _bulk_orders(order_ids):
        if order.status in NOT_CANCELLABLE or order.status == Status.CANCELLED:
            result.skipped.append((order.number, f"it is {order.get_status_display().lower()}"))
            continue
        try:
            order_cancel(order=order, actor=actor, reason=reason)
        except ValidationError as exc:
            result.skipped.append((order.number, " ".join(exc.messages)))
        else:
            result.done.append(order.number)
    return result
