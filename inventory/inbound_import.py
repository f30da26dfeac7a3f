"""Inbound supply from a CSV file: one row per PO / ASN line, all or nothing.

Columns (header row, any order, case-insensitive): number, supplier, location, sku, quantity, expected_date
(YYYY-MM-DD) and optionally kind (po or asn; blank is po). Rows with the same number form one shipment and
must agree on supplier, location and kind. Like the stock import (inventory.imports), a file with any bad
row is refused whole with every bad row named (row, column, value, reason; the first ERROR_CAP and the total)
and nothing is written. Rows are numbered as in a spreadsheet: the header is row 1.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.utils import timezone

from inventory.imports import ERROR_CAP, FileRejected, RowError
from inventory.inbound import MAX_QUANTITY, receiving_location_check
from inventory.models import InboundLine, InboundShipment, Location, Product

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

REQUIRED = ("number", "supplier", "location", "sku", "quantity", "expected_date")
OPTIONAL = ("kind",)
MAX_ROWS = 100_000
MAX_BYTES = 20 << 20
QTY = re.compile(r"^\s*[0-9]{1,9}\s*$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True, slots=True)
class InboundImportResult:
    shipments: list[str]
    lines: int


@dataclass(slots=True)
class _Row:
    row: int
    values: dict[str, str]
    quantity: int = 0
    expected: date | None = None


def _read(text: str) -> list[_Row]:
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise FileRejected(f"The file is larger than {MAX_BYTES >> 20} MB; split it.")
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except (StopIteration, csv.Error) as exc:
        raise FileRejected("The file is empty: expected a header row and at least one data row.") from exc
    missing = [c for c in REQUIRED if c not in header]
    unknown = [h for h in header if h not in REQUIRED + OPTIONAL]
    if missing or unknown or len(set(header)) != len(header):
        problems = [f"missing column(s): {', '.join(missing)}"] if missing else []
        problems += [f"unknown column(s): {', '.join(unknown)}"] if unknown else []
        problems += ["a column appears twice"] if len(set(header)) != len(header) else []
        raise FileRejected("The header is wrong: " + "; ".join(problems) + ".", rows=0)
    rows: list[_Row] = []
    try:
        for n, record in enumerate(reader, start=2):
            if not any(cell.strip() for cell in record):
                continue
            if len(rows) >= MAX_ROWS:
                raise FileRejected(f"More than {MAX_ROWS} rows; split the file.", rows=len(rows))
            cells = record + [""] * (len(header) - len(record))
            rows.append(
                _Row(n, {h: cells[i].strip() for i, h in enumerate(header)} | {"_extra": len(record) > len(header)})
            )
    except csv.Error as exc:
        raise FileRejected(f"Row {reader.line_num}: the CSV is malformed ({exc}).", rows=len(rows)) from exc
    if not rows:
        raise FileRejected("The file has a header but no data rows.")
    return rows


def _field_errors(*, r: _Row, products: dict, locations: dict, existing: set[str], today: date) -> list[RowError]:
    v, errors = r.values, []

    def bad(column: str, reason: str) -> None:
        errors.append(RowError(r.row, column, str(v.get(column, ""))[:100], reason))

    if v["_extra"]:
        bad("", "more cells than columns")
    if not v["number"] or len(v["number"]) > 64:
        bad("number", "missing or longer than 64 characters")
    elif v["number"] in existing:
        bad("number", "this PO / ASN number already exists")
    if not v["supplier"] or len(v["supplier"]) > 200:
        bad("supplier", "missing or longer than 200 characters")
    if v.get("kind", "") not in ("", *InboundShipment.Kind.values):
        bad("kind", "must be po or asn")
    if problems := receiving_location_check(location=locations.get(v["location"]), code=v["location"]):
        bad("location", problems[0].rstrip("."))
    if v["sku"] not in products:
        bad("sku", "missing SKU" if not v["sku"] else "unknown SKU")
    if not QTY.match(v["quantity"]) or not 0 < int(v["quantity"]) <= MAX_QUANTITY:
        bad("quantity", f"not a whole number from 1 to {MAX_QUANTITY}")
    else:
        r.quantity = int(v["quantity"])
    try:
        r.expected = date.fromisoformat(v["expected_date"]) if DATE.match(v["expected_date"]) else None
    except ValueError:
        r.expected = None
    if r.expected is None:
        bad("expected_date", "not a date (YYYY-MM-DD)")
    elif r.expected < today:
        bad("expected_date", "in the past")
    return errors


def _group_errors(rows: list[_Row]) -> list[RowError]:
    """Rows of one number agree on supplier, location and kind, and name each SKU once."""
    errors, first = [], {}
    seen: dict[tuple[str, str], int] = {}
    for r in rows:
        v = r.values
        head = first.setdefault(v["number"], r)
        for column in ("supplier", "location", "kind"):
            if v.get(column, "") != head.values.get(column, ""):
                errors.append(
                    RowError(r.row, column, v.get(column, "")[:100], f"differs from row {head.row} of the same number")
                )
        key = (v["number"], v["sku"])
        if key in seen:
            errors.append(
                RowError(r.row, "sku", v["sku"][:100], f"SKU repeated in the same number (first on row {seen[key]})")
            )
        seen.setdefault(key, r.row)
    return errors


def inbound_csv_import(*, text: str, actor: AbstractBaseUser | None = None) -> InboundImportResult:
    """Validate the whole file, then create every shipment and line in one transaction. Raises FileRejected
    (with the bad rows) and writes nothing when anything is wrong."""
    rows = _read(text)
    column = lambda name: {r.values[name] for r in rows}  # noqa: E731
    products = {p.sku: p.pk for p in Product.objects.filter(sku__in=column("sku"))}
    locations = {loc.code: loc for loc in Location.objects.filter(code__in=column("location"))}
    existing = set(InboundShipment.objects.filter(number__in=column("number")).values_list("number", flat=True))
    today = timezone.localdate()
    errors = [
        e
        for r in rows
        for e in _field_errors(r=r, products=products, locations=locations, existing=existing, today=today)
    ]
    errors += _group_errors(rows)
    if errors:
        errors.sort(key=lambda e: (e.row, e.column))
        raise FileRejected(
            f"{len(errors)} problem(s) in {len({e.row for e in errors})} row(s); nothing was imported.",
            errors[:ERROR_CAP],
            len(errors),
            rows=len(rows),
        )
    by_number: dict[str, list[_Row]] = defaultdict(list)
    for r in rows:
        by_number[r.values["number"]].append(r)
    who = actor if getattr(actor, "pk", None) else None
    try:
        return _write(by_number=by_number, rows=rows, products=products, locations=locations, who=who)
    except IntegrityError as exc:  # the same number imported at the same moment by someone else
        raise FileRejected("A PO / ASN number of this file was created meanwhile; nothing was imported.") from exc


def _write(*, by_number: dict, rows: list[_Row], products: dict, locations: dict, who) -> InboundImportResult:
    with transaction.atomic():
        shipments = InboundShipment.objects.bulk_create(
            [
                InboundShipment(
                    number=number,
                    kind=group[0].values.get("kind") or InboundShipment.Kind.PURCHASE_ORDER,
                    supplier=group[0].values["supplier"],
                    location=locations[group[0].values["location"]],
                    created_by=who,
                )
                for number, group in by_number.items()
            ]
        )
        ids = dict(InboundShipment.objects.filter(number__in=list(by_number)).values_list("number", "pk"))
        where = {r.values["number"]: locations[r.values["location"]].pk for r in rows}
        InboundLine.objects.bulk_create(
            [
                InboundLine(
                    shipment_id=ids[r.values["number"]],
                    location_id=where[r.values["number"]],
                    product_id=products[r.values["sku"]],
                    quantity=r.quantity,
                    expected_date=r.expected,
                )
                for r in rows
            ],
            batch_size=5000,
        )
    return InboundImportResult(shipments=[s.number for s in shipments], lines=len(rows))
