"""An order's shipping address changed: does its current plan still hold? Each open shipping fulfilment order is
priced from its location to the old and to the new address (the same rate tables routing uses); it is to be
re-routed when the new address is out of the service's reach, or when it costs more than the configured share
(DOM["ADDRESS_CHANGE_REROUTE_THRESHOLD"], default 0.20 = 20 %) above the old one."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from common.geo import haversine_km
from fulfillment.models import FulfillmentOrder
from routing.costs import package_cost, rate_for
from routing.selectors import rates_load

_SHIPPING = (FulfillmentOrder.Method.SHIP, FulfillmentOrder.Method.SAME_DAY)
_OPEN = (FulfillmentOrder.Status.CREATED, FulfillmentOrder.Status.RELEASED, FulfillmentOrder.Status.PICKING)


@dataclass(frozen=True, slots=True)
class PlanCheck:
    """One fulfilment order's plan against a new address: `reroute` with the reason, or fine."""

    fulfillment_order_id: int
    location_code: str
    reroute: bool
    reason: str
    cost_before: float | None
    cost_after: float | None


def _cost(*, fo: FulfillmentOrder, point: tuple[float, float] | None, rates, weight_kg: float) -> float | None:
    if point is None or fo.location.latitude is None or fo.location.longitude is None:
        return None
    band = rate_for(rates=rates, distance_km=haversine_km(fo.location.latitude, fo.location.longitude, *point))
    return None if band is None else round(package_cost(band=band, weight_kg=weight_kg), 2)


def _weight_kg(fo: FulfillmentOrder) -> float:
    grams = sum(
        (ln.order_line.product.weight_grams if ln.order_line.product_id else 0) * ln.quantity for ln in fo.lines.all()
    )
    return grams / 1000


def order_plan_recheck(
    *,
    order_id: int,
    old_point: tuple[float, float] | None,
    new_point: tuple[float, float] | None,
    service_level: str,
) -> list[PlanCheck]:
    """A PlanCheck per open shipping fulfilment order of the order against the old and new address's
    (lat, lon) (pickup and transfers do not depend on the customer's address)."""
    threshold = float(settings.DOM.get("ADDRESS_CHANGE_REROUTE_THRESHOLD", 0.20))
    rates = rates_load().get(service_level) or rates_load()["standard"]
    fos = (
        FulfillmentOrder.objects.filter(order_id=order_id, status__in=_OPEN, method__in=_SHIPPING)
        .select_related("location")
        .prefetch_related("lines__order_line__product")
        .order_by("pk")
    )
    out = []
    for fo in fos:
        w = _weight_kg(fo)
        before = _cost(fo=fo, point=old_point, rates=rates, weight_kg=w)
        after = _cost(fo=fo, point=new_point, rates=rates, weight_kg=w)
        if after is None:
            reroute, why = True, f"{fo.location.code} cannot reach the new address with {rates.service_level} service"
        elif before is not None and before > 0 and after > before * (1 + threshold):
            reroute = True
            why = (
                f"shipping from {fo.location.code} would cost {after:.2f} instead of {before:.2f} "
                f"(more than {threshold:.0%} above)"
            )
        else:
            reroute, why = False, f"{fo.location.code} still fits ({after:.2f} to ship)"
        out.append(PlanCheck(fo.pk, fo.location.code, reroute, why, before, after))
    return out
