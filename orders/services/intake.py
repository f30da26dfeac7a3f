"""Intake: every channel's order comes in through `order_ingest` (API, Shopify, B2B CSV): validated totally
(every problem named by field), stored once per channel and external id, checked for holds (fraud, address,
payment) and enqueued for routing."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from common.rows import rows_insert_returning, rows_insert_together
from inventory.models import Location
from inventory.selectors import product_facts_by_sku
from orders.checks import (
    ADDRESS_METHODS,
    PAID_STATUSES,
    FraudFacts,
    address_key,
    address_problems,
    fraud_screen,
    priority_score,
)
from orders.inputs import OrderIn
from orders.models import Channel, Order, OrderEvent, OrderHold, OrderLine
from orders.promise import Promise, promise_for
from orders.selectors import (
    fraud_settings_current,
    order_count_recent_at_address,
    order_existing_or_next_id,
    order_find_existing,
)
from orders.services.customers_intake import CustomerFacts, customer_upsert_counted
from orders.services.lifecycle import HoldKind, Status, order_routing_enqueue
from webhooks.services import TimelineRow, webhook_events_emit

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from orders.models import FraudSettings


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


def _text_problem(value: object, limit: int) -> str | None:
    if not isinstance(value, str):
        return f"Must be text, got {type(value).__name__}."
    if "\x00" in value:
        return "Null characters are not allowed."
    if len(value) > limit:
        return f"At most {limit} characters (got {len(value)})."
    return None


def _amount_problem(value: object, limits: OrderLimits) -> str | None:
    if not isinstance(value, Decimal) or not value.is_finite():
        return f"Must be an amount, got {value!r}."
    if value < 0:
        return f"Must be zero or more, got {value}."
    if value > limits.max_amount:
        return f"At most {limits.max_amount:,} (got {value:,.2f})."
    return None


def _placed_at_problem(value: object) -> str | None:
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


def _address_problems_by_field(*, name: str, address: object) -> dict:
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


def _line_problems(*, ln: object, limits: OrderLimits) -> dict:
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


def _lines_problems(*, lines: object, limits: OrderLimits) -> list | None:
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


def order_ingest(
    *,
    channel: Channel,
    order_in: OrderIn,
    idempotency_key: str = "",
    raw_payload: dict | None = None,
    source: str = "api",
    actor: AbstractBaseUser | None = None,
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
    door = order_existing_or_next_id(channel=channel, external_id=order_in.external_id, key=key)
    if door.existing_id is not None:
        return IngestResult(Order.objects.select_related("channel").get(pk=door.existing_id), False)

    prepared = _intake_prepare(order_in=order_in, key=key, order_id=door.next_id, fraud_digest=door.fraud_digest)
    try:
        # One transaction (a savepoint inside a caller's). A racing duplicate fails on the unique constraints
        # (PostgreSQL makes it wait for the winner to commit first), everything it wrote rolls back, and it
        # returns the winner's order.
        with transaction.atomic():
            order = _intake_write(
                channel=channel,
                order_in=order_in,
                prepared=prepared,
                raw_payload=raw_payload,
                source=source,
                actor=actor,
            )
    except IntegrityError:
        existing = order_find_existing(channel=channel, external_id=order_in.external_id, idempotency_key=key)
        if existing is None:
            raise
        return IngestResult(existing, False)
    return IngestResult(order, True)


@dataclass(slots=True)
class _Prepared:
    """What intake works out before it writes: products, pickup store, totals, promise, holds found so far."""

    key: str
    order_id: int | None  # the new order's primary key when the database hands it out beforehand
    now: datetime
    products: dict[str, _ProductFacts]
    pickup: Location | None
    subtotal: Decimal
    total: Decimal
    promise: Promise
    holds: list[tuple[str, str]]
    rules: FraudSettings
    addr_key: str


@dataclass(frozen=True, slots=True)
class _ProductFacts:
    pk: int
    is_active: bool


def _intake_prepare(*, order_in: OrderIn, key: str, order_id: int | None, fraud_digest: str | None) -> _Prepared:
    skus = {ln.sku for ln in order_in.lines if ln.sku}
    # Every line's product in one query (no model instances: two facts per SKU is all intake needs).
    products = {sku: _ProductFacts(pk, active) for sku, (pk, active) in product_facts_by_sku(skus=skus).items()}
    pickup = Location.objects.filter(code=order_in.pickup_location).first() if order_in.pickup_location else None
    subtotal = sum((ln.unit_price * ln.quantity for ln in order_in.lines), Decimal("0"))
    total = order_in.total if order_in.total is not None else subtotal + order_in.shipping_total + order_in.tax_total
    return _Prepared(
        key=key,
        order_id=order_id,
        now=timezone.now(),
        products=products,
        pickup=pickup,
        subtotal=subtotal,
        total=total,
        promise=promise_for(
            placed_at=order_in.placed_at, service_level=order_in.service_level, method=order_in.fulfillment_method
        ),
        holds=_checks_holds(order_in=order_in, products=products, pickup=pickup),
        rules=fraud_settings_current(digest=fraud_digest),
        addr_key=address_key(address=order_in.shipping_address),
    )


def _intake_write(
    *,
    channel: Channel,
    order_in: OrderIn,
    prepared: _Prepared,
    raw_payload: dict | None,
    source: str,
    actor: AbstractBaseUser | None,
) -> Order:
    """The order, its lines, holds, customer counters and timeline, in the caller's transaction."""
    p = prepared
    # The customer's upsert (order count and value included) also returns the velocity counts: one query.
    customer = customer_upsert_counted(
        channel=channel,
        customer_in=order_in.customer,
        total=p.total,
        addr_key=p.addr_key,
        since=p.now - timedelta(minutes=p.rules.velocity_window_minutes),
    )
    facts = _fraud_facts(order_in=order_in, customer=customer, total=p.total, addr_key=p.addr_key, prepared=p)
    score, reasons = fraud_screen(facts=facts, rules=p.rules)
    holds = list(p.holds)
    if score >= p.rules.hold_score:
        reason = f"Fraud score {score} ≥ {p.rules.hold_score}: " + " ".join(r["reason"] for r in reasons)
        holds.append((HoldKind.FRAUD, reason))
    order = _order_build(
        channel=channel,
        order_in=order_in,
        prepared=p,
        customer=customer,
        status=Status.ON_HOLD if holds else Status.VALIDATED,
        fraud=(score, reasons),
        raw_payload=raw_payload,
    )
    lines = [
        OrderLine(
            order=order,
            line_number=i,
            product_id=p.products[ln.sku].pk if ln.sku in p.products else None,
            sku=ln.sku,
            name=ln.name[:255],
            external_id=ln.external_id[:64],
            quantity=ln.quantity,
            unit_price=ln.unit_price,
        )
        for i, ln in enumerate(order_in.lines, start=1)
    ]
    intake = _intake_events(
        order=order,
        source=source,
        key=p.key,
        score=score,
        reasons=reasons,
        holds=holds,
        actor=actor if getattr(actor, "pk", None) else None,
    )
    hold_rows = [OrderHold(order=order, kind=k, reason=r) for k, r in holds]
    if order.pk is not None:  # handed out beforehand (PostgreSQL): every row in one statement
        rows_insert_together(groups=[[order], lines, hold_rows, intake])
    else:
        _order_insert_numbered(order=order)
        rows_insert_together(groups=[lines, hold_rows, intake])
    ref = {"pk": order.pk, "number": order.number, "external_id": order.external_id}
    webhook_events_emit(
        rows=[TimelineRow(order_id=order.pk, type=e.type, data=e.data) for e in intake],
        orders={order.pk: {**ref, "channel_id": channel.pk, "channel__code": channel.code}},
    )
    if order.status == Status.VALIDATED:
        order_routing_enqueue(order_id=order.pk)
    return order


def _order_build(
    *,
    channel: Channel,
    order_in: OrderIn,
    prepared: _Prepared,
    customer: CustomerFacts | None,
    status: str,
    fraud: tuple[int, list],
    raw_payload: dict | None,
) -> Order:
    """The order row, not yet stored, numbered from its primary key when the database handed it out
    beforehand (PostgreSQL); else `_order_insert_numbered` numbers it once stored."""
    p = prepared
    prefix = settings.DOM.get("ORDER_NUMBER_PREFIX", "DOM")
    order = Order(
        pk=p.order_id,
        channel=channel,
        external_id=order_in.external_id,
        idempotency_key=p.key,
        # Without a pk handed out beforehand: a placeholder, replaced by the pk-based number below.
        number=f"{prefix}-{p.order_id:07d}" if p.order_id else f"tmp-{uuid.uuid4().hex[:28]}",
        customer_id=customer.pk if customer else None,
        status=status,
        placed_at=order_in.placed_at,
        currency=order_in.currency.upper(),
        subtotal=p.subtotal,
        shipping_total=order_in.shipping_total,
        tax_total=order_in.tax_total,
        total=p.total,
        shipping_address=order_in.shipping_address or {},
        billing_address=order_in.billing_address or {},
        address_key=p.addr_key,
        fulfillment_method=order_in.fulfillment_method,
        pickup_location=p.pickup,
        service_level=order_in.service_level,
        payment_status=order_in.payment_status,
        promised_delivery_date=p.promise.promised_delivery_date,
        ship_by=p.promise.ship_by,
        priority=priority_score(
            ship_by=p.promise.ship_by,
            now=p.now,
            tier=customer.tier if customer else "standard",
            total=p.total,
        ),
        fraud_score=fraud[0],
        fraud_reasons=fraud[1],
        raw_payload=raw_payload or {},
    )
    return order


def _order_insert_numbered(*, order: Order) -> None:
    """Store an order whose primary key the insert assigns, then replace its placeholder number."""
    rows_insert_returning(objs=[order])
    order.number = f"{settings.DOM.get('ORDER_NUMBER_PREFIX', 'DOM')}-{order.pk:07d}"
    Order.objects.filter(pk=order.pk).update(number=order.number)


def _intake_events(
    *, order: Order, source: str, key: str, score: int, reasons: list, holds: list, actor: AbstractBaseUser | None
) -> list:
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


def _fraud_facts(
    *, order_in: OrderIn, customer: CustomerFacts | None, total: Decimal, addr_key: str, prepared: _Prepared
) -> FraudFacts:
    if customer is not None:
        same_email, same_address = customer.recent_orders, customer.recent_orders_same_address
    else:
        same_email = 0
        same_address = order_count_recent_at_address(
            addr_key=addr_key, since=prepared.now - timedelta(minutes=prepared.rules.velocity_window_minutes)
        )
    return FraudFacts(
        total=total,
        is_new_customer=customer.is_new if customer else True,
        shipping_address=order_in.shipping_address or {},
        billing_address=order_in.billing_address or {},
        skus=tuple(ln.sku for ln in order_in.lines if ln.sku),
        recent_orders_same_email=same_email,
        recent_orders_same_address=same_address,
    )


@dataclass(frozen=True, slots=True)
class CsvImportResult:
    created: list[Order]
    existing: list[Order]


def order_csv_import(*, channel: Channel, text: str, actor: AbstractBaseUser | None = None) -> CsvImportResult:
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
