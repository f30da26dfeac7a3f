"""The carrier rate card as plain data (no Django, no database): ZIP3 zones, billable weight, services by zone
and weight break, surcharges, and the scheduled truck that carries transfers to stores.

A package of billable weight W pounds (max(actual, L×W×H / dim divisor), rounded up to the pound) costs, on a
service and zone, its weight-break row's `base + per_lb × (W − 1)`; then the residential and remote-area
surcharges per package, additional handling or oversize per unit that needs it, and the fuel surcharge, a
percentage of all of those. Light parcel is the ground service for packages under `light_parcel_max_lb`.

The routing core prices candidates with a linear model (a fixed cost per shipment plus a cost per unit), which
`card_rates` derives from the card: per zone the open-ended (heaviest) row's base and per-pound price with
fuel, each unit paying its own billable weight rounded up to the pound. A one-unit package is priced exactly;
a package of several units pays the rounding of each unit (at most one pound per unit more than the carrier).
The shipment's reported price is the carrier's exact one (`package_price`), surcharge by surcharge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

from routing.zip3 import OFFSHORE_KM, ZONE_BREAKS_KM, ZONES

KG_PER_LB = 0.45359237
CARRIER_SERVICES = ("light_parcel", "ground", "express", "overnight")
# The carrier service that carries each customer service level (standard under the light-parcel limit: light parcel).
SERVICE_OF_LEVEL = {"standard": "ground", "express": "express", "overnight": "overnight"}


@dataclass(frozen=True, slots=True)
class RateBand:
    """One band of one service level: a distance band, or a carrier zone (`zone` > 0) whose `max_km` is the
    zone's upper ZIP3-to-ZIP3 distance; `per_kg` is per kg of billable weight."""

    max_km: float | None  # inclusive upper bound; None = no bound (the last band)
    base: float  # $ per package
    per_kg: float  # $ per kg
    transit_days: int  # business days
    zone: int = 0  # carrier zone 2–9; 0 = a plain distance band


@dataclass(frozen=True, slots=True)
class ServiceRates:
    service_level: str  # "standard" | "express" | "overnight" | "same_day" | "light_parcel"
    bands: tuple[RateBand, ...]  # ascending max_km
    max_km: float | None = None  # beyond this the service is infeasible by ground
    zoned: bool = False  # bands are carrier zones, read from the ZIP3-to-ZIP3 distance


@dataclass(frozen=True, slots=True)
class PriceRow:
    """One cell of the price table: a service in a zone up to a weight break."""

    service: str
    zone: int
    max_lb: int | None  # the heaviest billable weight of this break; None = no bound
    base: float  # $ for the first pound
    per_lb: float  # $ for each further pound
    transit_days: int


@dataclass(frozen=True, slots=True)
class RateCard:
    carrier: str
    version: int
    effective_from: date
    rows: tuple[PriceRow, ...]
    fuel_pct: float = 15.0
    residential: float = 5.50
    remote_area: float = 3.80
    remote_zip3s: frozenset[str] = frozenset()
    additional_handling: float = 28.00
    handling_over_lb: float = 50.0
    handling_over_in: float = 48.0
    oversize: float = 110.00
    oversize_over_in: float = 130.0  # length + girth
    dim_divisor: float = 139.0
    light_parcel_max_lb: float = 1.0
    truck_run_cost: float = 350.00  # a scheduled truck run to a store
    truck_units_per_run: int = 500  # the units a run is planned to carry (its cost is shared by them)
    _table: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        table: dict[tuple[str, int], list[PriceRow]] = {}
        for row in self.rows:
            table.setdefault((row.service, row.zone), []).append(row)
        for rows in table.values():
            rows.sort(key=lambda r: (r.max_lb is None, r.max_lb or 0))
        self._table.update(table)

    @property
    def fuel(self) -> float:
        return 1.0 + self.fuel_pct / 100.0

    def row_for(self, *, service: str, zone: int, billable_lb: int) -> PriceRow | None:
        """The weight-break row that prices `billable_lb` (whole pounds) on the service in the zone."""
        for row in self._table.get((service, zone), ()):
            if row.max_lb is None or billable_lb <= row.max_lb:
                return row
        return None

    def open_row(self, *, service: str, zone: int) -> PriceRow | None:
        """The zone's heaviest row (what the linear routing model prices every package with)."""
        rows = self._table.get((service, zone))
        return rows[-1] if rows else None

    def truck_per_unit(self) -> float:
        return self.truck_run_cost / max(1, self.truck_units_per_run)


def unit_billable_lb(*, weight_kg: float, dims_in: tuple[float, float, float], dim_divisor: float = 139.0) -> float:
    """A unit's billable weight in pounds (not rounded): the larger of its actual and dimensional weight."""
    length, width, height = dims_in
    return max(weight_kg / KG_PER_LB, (length * width * height) / dim_divisor if dim_divisor > 0 else 0.0)


def billable_lb(*, weight_kg: float, dims_in: tuple[float, float, float], dim_divisor: float = 139.0) -> int:
    """Billable weight rounded up to the pound (at least one)."""
    return max(1, math.ceil(unit_billable_lb(weight_kg=weight_kg, dims_in=dims_in, dim_divisor=dim_divisor) - 1e-9))


def unit_surcharge(*, card: RateCard, weight_kg: float, dims_in: tuple[float, float, float]) -> str:
    """'oversize' (length + girth over the limit), 'additional_handling' (heavier or longer than its limits)
    or '' — what a unit pays on its own package; oversize replaces additional handling, as carriers do."""
    sides = sorted(dims_in, reverse=True)
    if sides[0] + 2 * (sides[1] + sides[2]) > card.oversize_over_in:
        return "oversize"
    if weight_kg / KG_PER_LB > card.handling_over_lb or sides[0] > card.handling_over_in:
        return "additional_handling"
    return ""


def unit_surcharge_cost(*, card: RateCard, kind: str) -> float:
    """The fuel-inclusive cost of a unit surcharge kind ('' costs nothing)."""
    fee = {"oversize": card.oversize, "additional_handling": card.additional_handling}.get(kind, 0.0)
    return fee * card.fuel


def package_price(
    *,
    card: RateCard,
    service: str,
    zone: int,
    billable: float,
    residential: bool,
    remote: bool,
    surcharges: tuple[str, ...] = (),
) -> dict:
    """The carrier's price of one package, surcharge by surcharge: `billable` is its billable weight in
    pounds (not rounded), `surcharges` each unit's unit surcharge kind. Light parcel above its limit is
    priced as ground."""
    lb = max(1, math.ceil(billable - 1e-9))
    if service == "light_parcel" and billable > card.light_parcel_max_lb:
        service = "ground"
    row = card.row_for(service=service, zone=zone, billable_lb=lb)
    if row is None:
        raise ValueError(f"the rate card has no {service} price for zone {zone} at {lb} lb")
    parts = {
        "base": row.base + row.per_lb * (lb - 1),
        "residential": card.residential if residential else 0.0,
        "remote_area": card.remote_area if remote else 0.0,
        "additional_handling": card.additional_handling * surcharges.count("additional_handling"),
        "oversize": card.oversize * surcharges.count("oversize"),
    }
    parts["fuel"] = sum(parts.values()) * card.fuel_pct / 100.0
    out = {"carrier": card.carrier, "service": service, "zone": zone, "billable_lb": lb}
    out.update({k: round(v, 4) for k, v in parts.items()})
    out["total"] = round(sum(parts.values()), 4)
    return out


def card_rates(card: RateCard) -> dict[str, ServiceRates]:
    """The routing core's linear rates of each customer service level (and light parcel) from the card: one
    band per zone, base and per-kg of billable weight from the zone's heaviest row, fuel included."""
    out: dict[str, ServiceRates] = {}
    tops = (*ZONE_BREAKS_KM, OFFSHORE_KM * 0.999, None)  # zones 2–7 by distance, 8 beyond, 9 offshore
    levels = {**SERVICE_OF_LEVEL, "light_parcel": "light_parcel"}
    for level, service in levels.items():
        bands = []
        for zone, top in zip(ZONES, tops, strict=True):
            row = card.open_row(service=service, zone=zone)
            if row is None:
                break
            bands.append(
                RateBand(
                    max_km=top,
                    base=round((row.base - row.per_lb) * card.fuel, 6),
                    per_kg=round(row.per_lb / KG_PER_LB * card.fuel, 6),
                    transit_days=row.transit_days,
                    zone=zone,
                )
            )
        if len(bands) == len(ZONES):
            out[level] = ServiceRates(service_level=level, bands=tuple(bands), zoned=True)
    return out


# The shipped default card (a list-price ground/express/overnight card of the kind US parcel carriers publish,
# and a light-parcel service under one pound): (zone, ground base, ground per lb, ground days, express base,
# express per lb, overnight base, overnight per lb, light parcel).
_DEFAULT_TABLE = (
    (2, 8.50, 0.35, 1, 18.00, 2.00, 30.00, 3.00, 4.90),
    (3, 8.90, 0.45, 2, 20.00, 2.40, 34.00, 3.40, 5.20),
    (4, 9.40, 0.55, 3, 23.00, 2.80, 39.00, 3.90, 5.50),
    (5, 9.90, 0.65, 3, 25.00, 3.20, 44.00, 4.40, 5.80),
    (6, 10.50, 0.80, 4, 28.00, 3.60, 49.00, 4.90, 6.20),
    (7, 11.00, 0.95, 4, 31.00, 4.00, 54.00, 5.40, 6.50),
    (8, 11.60, 1.10, 5, 34.00, 4.40, 60.00, 6.00, 6.90),
    (9, 30.00, 2.50, 5, 45.00, 5.50, 80.00, 7.50, 9.50),
)
# Remote-area ZIP3s of the default card (rural prefixes a carrier's delivery-area list covers whole).
DEFAULT_REMOTE_ZIP3S = frozenset({"049", "569", "593", "596", "597", "598", "599", "677", "693", "822", "834", "897"})


def _default_rows() -> tuple[PriceRow, ...]:
    rows = []
    for zone, g, g_lb, days, x, x_lb, o, o_lb, lp in _DEFAULT_TABLE:
        rows.append(PriceRow("ground", zone, None, g, g_lb, days))
        rows.append(PriceRow("light_parcel", zone, 1, lp, 0.0, days))
        rows.append(PriceRow("express", zone, None, x, x_lb, min(days, 2) if zone < 9 else 3))  # never after ground
        rows.append(PriceRow("overnight", zone, None, o, o_lb, 1 if zone < 9 else 2))
    return tuple(rows)


DEFAULT_CARD = RateCard(
    carrier="Default parcel carrier",
    version=1,
    effective_from=date(2026, 1, 1),
    rows=_default_rows(),
    remote_zip3s=DEFAULT_REMOTE_ZIP3S,
)
