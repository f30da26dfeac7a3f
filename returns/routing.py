"""Where a mail-in return goes: the return rule set (routing's rule grammar) narrows the locations, then cost.

Pure: no database. `returns.selectors.return_network_load` gathers the inputs, `returns.services` stores the
decision. The rule set is a routing `RuleSet` (code "returns", never the active order rule set) compiled by
routing's own `ruleset_compiled_for`, and evaluated on a routing `OrderView` built from the return, so every
condition field, operator and action of docs/routing-rules.md means the same here — except that
`order.total` / `order.units` / `order.line_count` describe the units being returned.

Cost of sending the return to a location = return shipping (standard rate band by distance, per kg)
+ rule adjustments (`prefer`) − a stock-need credit: for each returned product, the units the location lacks to
cover `target_days` of its recent sales (ATS below sales × target / window) earn `credit_per_unit` each. So the
nearest location that accepts returns for the items' handling classes wins, unless a location that sells the
product and is running low is close enough in cost; distance breaks ties.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from routing.network import CompiledRuleSet, LineView, LocationView, OrderView, ServiceRates, rate_for

MAX_LISTED_CANDIDATES = 12


@dataclass(frozen=True, slots=True)
class NeedPolicy:
    window_days: int = 30  # recent sales = units consumed at the location over this many days
    target_days: int = 14  # a location wants this many days of cover
    credit_per_unit: float = 2.0  # $ per returned unit that fills a gap


@dataclass(slots=True)
class ReturnCandidate:
    location_id: int
    code: str
    kind: str
    distance_km: float
    shipping: float
    adjustment: float
    need_credit: float
    cost: float
    lines: list[dict] = field(default_factory=list)  # per product: sku, ats, recent_sales, need_units

    def as_dict(self) -> dict:
        return {
            "location_id": self.location_id,
            "location": self.code,
            "kind": self.kind,
            "distance_km": round(self.distance_km, 1),
            "shipping": round(self.shipping, 2),
            "adjustment": round(self.adjustment, 2),
            "need_credit": round(self.need_credit, 2),
            "cost": round(self.cost, 2),
            "lines": self.lines,
        }


@dataclass(slots=True)
class ReturnDecision:
    location_id: int | None
    cost: float
    candidates: list[ReturnCandidate]  # cheapest first
    excluded: dict[str, list[int]]
    rules_fired: list[dict]
    notes: list[str]
    rule_set_version_id: int | None


def return_decide(
    *,
    view: OrderView,
    locations: dict[int, LocationView],
    distances: dict[int, float],
    accepting: frozenset[int],
    rules: CompiledRuleSet,
    rates: ServiceRates,
    ats: dict[int, dict[int, int]],
    sales: dict[int, dict[int, int]],
    policy: NeedPolicy,
) -> ReturnDecision:
    """The cheapest eligible return location for the returned lines in `view` (origin = the view's point)."""
    ctx = rules.apply(view)
    excluded: dict[str, list[int]] = {}
    notes: list[str] = []
    classes = sorted({ln.handling_class for ln in view.lines})
    kg = sum(ln.weight_kg * ln.quantity for ln in view.lines)
    cands: list[ReturnCandidate] = []
    for loc in sorted(locations.values(), key=lambda x: x.id):
        reason = _exclusion(loc=loc, accepting=accepting, ctx=ctx, distances=distances, classes=classes)
        if reason is None:
            km = distances[loc.id]
            band = rate_for(rates=rates, distance_km=km)
            if band is None:
                reason = f"service: standard return shipping cannot reach {km:.0f} km away"
        if reason is not None:
            excluded.setdefault(reason, []).append(loc.id)
            continue
        per_line, credit = _need(view.lines, loc.id, ats=ats, sales=sales, policy=policy)
        shipping = band.base + band.per_kg * kg
        adjustment = ctx.adjustment(loc) if ctx.adjustments else 0.0
        cands.append(
            ReturnCandidate(
                location_id=loc.id,
                code=loc.code,
                kind=loc.kind,
                distance_km=km,
                shipping=shipping,
                adjustment=adjustment,
                need_credit=credit,
                cost=shipping + adjustment - credit,
                lines=per_line,
            )
        )
    cands.sort(key=lambda c: (round(c.cost, 6), c.distance_km, c.code))
    if view.latitude is None or view.longitude is None:
        notes.append("the customer's address has no known location: distances unknown")
    best = cands[0] if cands else None
    if best is not None and len(cands) > 1 and best.need_credit > 0 and best.distance_km > cands[1].distance_km:
        notes.append(f"{best.code} chosen over nearer locations: it is low on stock for its recent sales")
    return ReturnDecision(
        location_id=best.location_id if best else None,
        cost=best.cost if best else 0.0,
        candidates=cands,
        excluded=excluded,
        rules_fired=ctx.fired,
        notes=notes,
        rule_set_version_id=rules.version_id,
    )


def _exclusion(*, loc: LocationView, accepting, ctx, distances, classes) -> str | None:
    if not loc.is_active:
        return "inactive"
    if loc.id not in accepting:
        return "returns: does not accept returns"
    reason = ctx.exclusion_reason(loc)
    if reason:
        return reason
    # A handling rule (e.g. "hazmat only to warehouses") applies per line outbound; a return travels to one
    # place as a whole, so a location it excludes for any returned line is out for the return.
    for handling_class in classes:
        if reason := ctx.line_exclusion(loc, handling_class):
            return reason
    km = distances.get(loc.id)
    if km is None:
        return "distance: location (or the customer's address) has no coordinates"
    if ctx.max_km is not None and km > ctx.max_km[1]:
        return f"rule “{ctx.max_km[0]}”: farther than {ctx.max_km[1]:g} km"
    missing = [c for c in classes if c not in loc.handling_classes]
    if missing:
        return f"handling class: does not take {', '.join(missing)} returns"
    return None


def _need(
    lines: tuple[LineView, ...], loc_id: int, *, ats: dict, sales: dict, policy: NeedPolicy
) -> tuple[list[dict], float]:
    """Per returned product: ATS here, recent sales here, units short of the target cover; and the credit."""
    out, credit = [], 0.0
    for ln in lines:
        a = ats.get(ln.product_id, {}).get(loc_id, 0)
        sold = sales.get(ln.product_id, {}).get(loc_id, 0)
        target = math.ceil(sold * policy.target_days / policy.window_days) if sold > 0 else 0
        need = max(0, target - a)
        useful = min(need, ln.quantity)
        credit += useful * policy.credit_per_unit
        out.append({"sku": ln.sku, "ats": a, "recent_sales": sold, "need_units": need})
    return out, credit
