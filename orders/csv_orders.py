"""B2B orders from a CSV file: one row per line, one order per `external_id` group. Parsing only; the
service `orders.services.order_csv_import` stores the orders (all or nothing)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from inventory.models import Location, Product
from orders.inputs import CustomerIn, LineIn, OrderIn
from orders.models import Order
from orders.services import OrderLimits

REQUIRED = ("external_id", "sku", "quantity")
ORDER_FIELDS = (
    "placed_at",
    "customer_email",
    "customer_name",
    "ship_name",
    "ship_line1",
    "ship_line2",
    "ship_city",
    "ship_region",
    "ship_postal_code",
    "ship_country",
    "fulfillment_method",
    "pickup_location",
    "service_level",
    "payment_status",
    "currency",
)
COLUMNS = REQUIRED + ORDER_FIELDS + ("unit_price",)
MAX_ROWS = 20000
# B2B orders are on account: with no payment_status column value they count as authorised.
DEFAULT_PAYMENT_STATUS = "authorized"


@dataclass(frozen=True, slots=True)
class RowError:
    row: int  # as a spreadsheet numbers it: the header is row 1
    field: str
    message: str

    def as_dict(self) -> dict:
        return {"row": self.row, "field": self.field, "message": self.message}

    def __str__(self) -> str:
        return f"Row {self.row}, {self.field}: {self.message}"


class CsvOrderErrors(Exception):
    """Every problem of the file; nothing was stored."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors[:20]))


@dataclass(frozen=True, slots=True)
class CsvOrder:
    first_row: int
    order_in: OrderIn


def _rows_read(text: str) -> list[tuple[int, dict]]:
    """The file's non-blank rows as (row number, {column: stripped value}); a bad header, too many rows, no
    rows or NUL characters refuse the whole file."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise CsvOrderErrors([RowError(1, c, "Missing column.") for c in missing])
    unknown_cols = [c for c in header if c and c not in COLUMNS]
    if unknown_cols:
        raise CsvOrderErrors(
            [RowError(1, c, f"Unknown column; the columns are: {', '.join(COLUMNS)}.") for c in unknown_cols]
        )
    rows = []
    for i, raw in enumerate(reader, start=2):
        if i - 1 > MAX_ROWS:
            raise CsvOrderErrors([RowError(i, "file", f"At most {MAX_ROWS} rows per file; split it.")])
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k}
        if any(row.values()):
            rows.append((i, row))
    if not rows:
        raise CsvOrderErrors([RowError(2, "file", "The file has no order rows.")])
    nul = [RowError(n, k, "Null characters are not allowed.") for n, r in rows for k, v in r.items() if "\x00" in v]
    if nul:
        raise CsvOrderErrors(nul)
    return rows


def _row_errors(n: int, r: dict, *, known: set[str], locations: set[str], limits: OrderLimits) -> list[RowError]:
    """Every problem of one row on its own (required values, SKU, numbers, choices, store, date)."""
    errors: list[RowError] = []
    for c in REQUIRED:
        if not r.get(c):
            errors.append(RowError(n, c, "Required."))
    if r.get("sku") and r["sku"] not in known:
        errors.append(RowError(n, "sku", f"Unknown or inactive SKU {r['sku']!r}."))
    errors += _row_numbers_errors(n, r, limits)
    for name, choices in (
        ("fulfillment_method", Order.Method),
        ("service_level", Order.ServiceLevel),
        ("payment_status", Order.PaymentStatus),
    ):
        if r.get(name) and r[name] not in choices.values:
            errors.append(RowError(n, name, f"{r[name]!r} is not one of {', '.join(choices.values)}."))
    if r.get("pickup_location") and r["pickup_location"] not in locations:
        errors.append(RowError(n, "pickup_location", f"Unknown location {r['pickup_location']!r}."))
    if r.get("placed_at") and _when(r["placed_at"]) is None:
        errors.append(
            RowError(
                n,
                "placed_at",
                f"{r['placed_at'][:40]!r} is not a date (YYYY-MM-DD) or a date and time with its UTC offset"
                " (YYYY-MM-DDTHH:MMZ or +01:00).",
            )
        )
    return errors


def _group_errors(groups: dict[str, list[tuple[int, dict]]]) -> list[RowError]:
    """Rows of one order that disagree with its first row on an order-level value."""
    errors: list[RowError] = []
    # Order-level values come from a group's first row; a later row may repeat them or leave them blank.
    for ext, members in groups.items():
        first_n, first = members[0]
        for n, r in members[1:]:
            for f in ORDER_FIELDS:
                if r.get(f) and r[f] != first.get(f, ""):
                    errors.append(
                        RowError(n, f, f"Differs from row {first_n} of order {ext!r} ({first.get(f, '')!r}).")
                    )
    return errors


def _csv_order(ext: str, members: list[tuple[int, dict]]) -> CsvOrder:
    """One order from its rows: order-level values from the first, a line per row."""
    first_n, f = members[0]
    method = f.get("fulfillment_method") or "ship"
    return CsvOrder(
        first_row=first_n,
        order_in=OrderIn(
            external_id=ext,
            placed_at=_when(f["placed_at"]) if f.get("placed_at") else timezone.now(),
            lines=[
                LineIn(sku=r["sku"], quantity=int(r["quantity"]), unit_price=Decimal(r.get("unit_price") or 0))
                for _, r in members
            ],
            customer=CustomerIn(email=f.get("customer_email", ""), name=f.get("customer_name", ""))
            if f.get("customer_email")
            else None,
            shipping_address={
                "name": f.get("ship_name", ""),
                "line1": f.get("ship_line1", ""),
                "line2": f.get("ship_line2", ""),
                "city": f.get("ship_city", ""),
                "region": f.get("ship_region", "").upper(),
                "postal_code": f.get("ship_postal_code", ""),
                "country": (f.get("ship_country") or "US").upper(),
            }
            if f.get("ship_line1") or f.get("ship_postal_code")
            else {},
            fulfillment_method=method,
            pickup_location=f.get("pickup_location", ""),
            service_level=f.get("service_level") or "standard",
            payment_status=f.get("payment_status") or DEFAULT_PAYMENT_STATUS,
            currency=(f.get("currency") or "USD").upper(),
        ),
    )


def csv_orders_parse(*, text: str) -> list[CsvOrder]:
    """Parse the file into orders, in file order; CsvOrderErrors naming every bad row and field."""
    rows = _rows_read(text)
    limits = OrderLimits.current()
    skus = {r["sku"] for _, r in rows if r.get("sku")}
    known = set(Product.objects.filter(sku__in=skus, is_active=True).values_list("sku", flat=True))
    codes = {r["pickup_location"] for _, r in rows if r.get("pickup_location")}
    locations = set(Location.objects.filter(code__in=codes).values_list("code", flat=True))
    errors: list[RowError] = []
    groups: dict[str, list[tuple[int, dict]]] = {}
    for n, r in rows:
        errors += _row_errors(n, r, known=known, locations=locations, limits=limits)
        if r.get("external_id"):
            groups.setdefault(r["external_id"], []).append((n, r))
    errors += _group_errors(groups)
    if errors:
        raise CsvOrderErrors(sorted(errors, key=lambda e: (e.row, e.field)))
    return [_csv_order(ext, members) for ext, members in groups.items()]


def _row_numbers_errors(n: int, r: dict, limits: OrderLimits) -> list[RowError]:
    """Quantity and unit price of a row: whole units within the per-line limit, a finite amount in range."""
    errors = []
    if r.get("quantity"):
        try:
            qty = int(r["quantity"]) if len(r["quantity"]) <= 20 else 0
        except ValueError:
            qty = 0
        if qty <= 0:
            errors.append(RowError(n, "quantity", f"Must be a positive whole number, got {r['quantity'][:40]!r}."))
        elif qty > limits.max_quantity:
            errors.append(RowError(n, "quantity", f"At most {limits.max_quantity:,} units per line, got {qty:,}."))
    if r.get("unit_price"):
        try:
            price = Decimal(r["unit_price"]) if len(r["unit_price"]) <= 40 else Decimal("NaN")
        except InvalidOperation:
            price = Decimal("NaN")
        if not price.is_finite():
            errors.append(RowError(n, "unit_price", f"{r['unit_price'][:40]!r} is not an amount."))
        elif price < 0:
            errors.append(RowError(n, "unit_price", f"Must be zero or more, got {r['unit_price']}."))
        elif price > limits.max_amount:
            errors.append(RowError(n, "unit_price", f"At most {limits.max_amount:,}, got {r['unit_price'][:40]}."))
    return errors


def _when(value: str):
    """A date (an order on that day: noon in the server's time zone) or a date and time with its UTC offset;
    None for anything else, a date and time without an offset included (it would be a guess)."""
    try:
        d = parse_date(value)
        if d is not None:
            return timezone.make_aware(datetime(d.year, d.month, d.day, 12, 0))
        dt = parse_datetime(value)
    except (ValueError, OverflowError):
        return None
    if dt is None:
        return None
    return None if timezone.is_naive(dt) else dt
