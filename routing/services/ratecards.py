"""Rate cards as data: import a carrier's price table from CSV as a new version (all or nothing: a file with any
bad row is refused whole, every bad row named), and export a version through the formula-safe writer.

The CSV has one row per price cell: `service,zone,max_lb,base,per_lb,transit_days` (max_lb blank = no upper
bound). A new version takes its surcharges from the carrier's latest version (or the defaults of the model) and
they stay editable in the admin.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction

from routing.models import RateCard, RateCardPrice
from routing.zip3 import ZONES

COLUMNS = ("service", "zone", "max_lb", "base", "per_lb", "transit_days")
SURCHARGE_FIELDS = (
    "fuel_pct",
    "residential",
    "remote_area",
    "remote_zip3s",
    "additional_handling",
    "handling_over_lb",
    "handling_over_in",
    "oversize",
    "oversize_over_in",
    "dim_divisor",
    "light_parcel_max_lb",
    "truck_run_cost",
    "truck_units_per_run",
)
MAX_ROWS = 5000
RATECARD_MAX_VERSION = 999_999
MAX_PRICE = Decimal("100000")
# Services a card must carry in every zone (light parcel is optional: without it every parcel goes ground).
REQUIRED_SERVICES = ("ground", "express", "overnight")


@dataclass(frozen=True, slots=True)
class RowError:
    row: int  # as a spreadsheet numbers it: the header is row 1 (0: the file as a whole)
    field: str
    message: str

    def __str__(self) -> str:
        return f"Row {self.row}, {self.field}: {self.message}" if self.row else f"{self.field}: {self.message}"


class RateCardRejected(Exception):
    """Every problem of the file; nothing was stored."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors[:20]))


def _int(raw: str, *, low: int, high: int) -> int:
    value = int(raw.strip())
    if not low <= value <= high:
        raise ValueError(f"must be from {low} to {high}")
    return value


def _money(raw: str) -> Decimal:
    value = Decimal(raw.strip())
    if not value.is_finite() or value < 0 or value > MAX_PRICE or value != value.quantize(Decimal("0.01")):
        raise ValueError(f"must be an amount from 0 to {MAX_PRICE} with at most two decimals")
    return value


def _row_parse(*, n: int, row: dict, errors: list[RowError]) -> RateCardPrice | None:
    """One CSV row as an unsaved price cell, or None with its problems added to `errors`."""
    parsed: dict = {}
    found = len(errors)
    service = (row.get("service") or "").strip()
    if service not in RateCardPrice.Service.values:
        known = ", ".join(RateCardPrice.Service.values)
        errors.append(RowError(n, "service", f"{service[:40]!r} is not one of {known}"))
    checks = (
        ("zone", lambda v: _int(v, low=min(ZONES), high=max(ZONES))),
        ("max_lb", lambda v: _int(v, low=1, high=10000) if v.strip() else None),
        ("base", _money),
        ("per_lb", _money),
        ("transit_days", lambda v: _int(v, low=0, high=30)),
    )
    for name, parse in checks:
        raw = row.get(name)
        if raw is None:
            errors.append(RowError(n, name, "missing"))
            continue
        try:
            parsed[name] = parse(raw)
        except (ValueError, InvalidOperation) as exc:
            reason = str(exc) if isinstance(exc, ValueError) and "must be" in str(exc) else "not a valid number"
            errors.append(RowError(n, name, f"{raw.strip()[:40]!r}: {reason}"))
    if len(errors) > found:
        return None
    return RateCardPrice(service=service, **parsed)


def _table_check(*, cells: list[tuple[int, RateCardPrice]], errors: list[RowError]) -> None:
    """Duplicates (named by row), and every required service priced in every zone with an open-ended row."""
    seen: dict[tuple, int] = {}
    for n, c in cells:
        key = (c.service, c.zone, c.max_lb)
        if key in seen:
            errors.append(RowError(n, "max_lb", f"duplicates row {seen[key]} ({c.service}, zone {c.zone})"))
        seen.setdefault(key, n)
    open_rows = {(s, z) for s, z, m in seen if m is None}
    for service in sorted({s for s, _, _ in seen} | set(REQUIRED_SERVICES)):
        if service == "light_parcel":
            continue
        for zone in ZONES:
            if (service, zone) not in open_rows:
                errors.append(RowError(0, service, f"zone {zone} has no row without a weight limit (max_lb blank)"))


def ratecard_rows_parse(*, text: str) -> list[RateCardPrice]:
    """The price cells of a CSV file, unsaved; RateCardRejected naming every problem when any row is bad."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise RateCardRejected([RowError(1, "header", f"missing column(s): {', '.join(missing)}")])
    reader.fieldnames = header
    errors: list[RowError] = []
    cells: list[tuple[int, RateCardPrice]] = []
    n = 1
    try:
        for n, row in enumerate(reader, start=2):
            if n - 1 > MAX_ROWS:
                raise RateCardRejected([RowError(n, "file", f"more than {MAX_ROWS} rows")])
            if None in row:
                errors.append(RowError(n, "row", "more cells than columns"))
                continue
            if not any((v or "").strip() for v in row.values()):
                continue
            cell = _row_parse(n=n, row=row, errors=errors)
            if cell is not None:
                cells.append((n, cell))
    except csv.Error:  # a cell over the field limit, or broken quoting: that row is named, nothing is stored
        errors.append(RowError(n + 1, "row", "not readable as CSV (a cell over 131072 characters?)"))
    if not errors:
        _table_check(cells=cells, errors=errors)
    if errors:
        raise RateCardRejected(errors)
    return [c for _, c in cells]


def ratecard_csv_import(*, text: str, carrier: str, version: int, effective_from: date) -> RateCard:
    """Store the file as version `version` of `carrier`'s card, effective from `effective_from`, with the
    surcharges of the carrier's latest version: all or nothing."""
    errors = []
    carrier = (carrier or "").strip()
    if not carrier or len(carrier) > 100 or not carrier.isprintable():
        errors.append(RowError(0, "carrier", "required: one line of at most 100 characters"))
    if not isinstance(version, int) or not 1 <= version <= RATECARD_MAX_VERSION:
        errors.append(RowError(0, "version", f"must be a whole number from 1 to {RATECARD_MAX_VERSION}"))
    if not isinstance(effective_from, date):
        errors.append(RowError(0, "effective_from", "a date is required"))
    if errors:
        raise RateCardRejected(errors)
    cells = ratecard_rows_parse(text=text)
    previous = RateCard.objects.filter(carrier=carrier).order_by("-version").first()
    surcharges = {f: getattr(previous, f) for f in SURCHARGE_FIELDS} if previous else {}
    try:
        with transaction.atomic():
            card = RateCard.objects.create(
                carrier=carrier,
                version=version,
                effective_from=effective_from,
                note="imported from CSV",
                **surcharges,
            )
            for c in cells:
                c.card = card
            RateCardPrice.objects.bulk_create(cells)
    except IntegrityError as exc:
        raise RateCardRejected([RowError(0, "version", f"{carrier} already has version {version}")]) from exc
    return card


def ratecard_csv_rows(*, card: RateCard) -> list[list]:
    """A card's price table as CSV rows (header first), the import's own format."""
    rows: list[list] = [list(COLUMNS)]
    for p in card.prices.order_by("service", "zone", "max_lb"):
        rows.append([p.service, p.zone, p.max_lb if p.max_lb is not None else "", p.base, p.per_lb, p.transit_days])
    return rows


def ratecard_csv_filename(*, card: RateCard) -> str:
    """The export's file name: the carrier's name reduced to letters, digits and dashes (it goes in a header)."""
    carrier = re.sub(r"[^A-Za-z0-9]+", "-", card.carrier).strip("-")[:60] or "carrier"
    return f"ratecard-{carrier}-v{card.version}.csv"
