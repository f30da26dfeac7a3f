"""Carrier services a location can ship with, and the handling rules that constrain them.

The catalogue is data (override it with `DOM["CARRIER_SERVICES"]` in settings); the rules are code:
frozen and chilled goods only with services fast enough, hazmat never by air, oversized goods only with
an oversized service, same-day only with a local courier.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError


@dataclass(frozen=True, slots=True)
class CarrierService:
    code: str
    carrier: str
    name: str
    mode: str  # "ground", "air" or "courier"
    transit_days: int
    oversized: bool = False
    tracking_url: str = ""

    def tracking_link(self, tracking_number: str) -> str:
        return self.tracking_url.format(tracking_number) if self.tracking_url and tracking_number else ""


DEFAULT_SERVICES = [
    CarrierService(
        "ups_ground", "UPS", "UPS Ground", "ground", 5, tracking_url="https://www.ups.com/track?tracknum={}"
    ),
    CarrierService(
        "ups_2day", "UPS", "UPS 2nd Day Air", "air", 2, tracking_url="https://www.ups.com/track?tracknum={}"
    ),
    CarrierService(
        "ups_next_day", "UPS", "UPS Next Day Air", "air", 1, tracking_url="https://www.ups.com/track?tracknum={}"
    ),
    CarrierService(
        "fedex_ground", "FedEx", "FedEx Ground", "ground", 4, tracking_url="https://www.fedex.com/fedextrack/?trknbr={}"
    ),
    CarrierService(
        "fedex_overnight",
        "FedEx",
        "FedEx Priority Overnight",
        "air",
        1,
        tracking_url="https://www.fedex.com/fedextrack/?trknbr={}",
    ),
    CarrierService("regional_cold", "Regional", "Regional cold-chain ground", "ground", 1),
    CarrierService("freight_oversized", "Freight", "Oversized freight", "ground", 6, oversized=True),
    CarrierService("local_courier", "Courier", "Local courier (same day)", "courier", 0),
]

# Longest transit a temperature-controlled product survives.
MAX_TRANSIT_DAYS = {"frozen": 1, "chilled": 2}
# Default service per order service level (ship-from-store and warehouses pick from here).
DEFAULT_FOR_LEVEL = {"standard": "ups_ground", "express": "ups_2day", "overnight": "ups_next_day"}


def carrier_services() -> dict[str, CarrierService]:
    extra = settings.DOM.get("CARRIER_SERVICES") or []
    services = {s.code: s for s in DEFAULT_SERVICES}
    for item in extra:
        s = CarrierService(**item)
        services[s.code] = s
    return services


def carrier_service_get(*, code: str) -> CarrierService:
    try:
        return carrier_services()[code]
    except KeyError:
        raise ValidationError(
            {"service": f"Unknown carrier service {code!r}; choose one of {', '.join(sorted(carrier_services()))}."}
        ) from None


def handling_problems(*, service: CarrierService, products: list, location, same_day: bool = False) -> list[str]:
    """Every reason `service` from `location` cannot carry `products` (empty when it can)."""
    problems = []
    location_classes = set(location.handling_classes or ["ambient"])
    for p in products:
        hc = p.handling_class
        if hc in MAX_TRANSIT_DAYS:
            if hc not in location_classes:
                problems.append(f"SKU {p.sku} is {hc}; {location.code} cannot handle {hc} goods.")
            if service.transit_days > MAX_TRANSIT_DAYS[hc]:
                problems.append(
                    f"SKU {p.sku} is {hc}: {service.name} takes {service.transit_days} days, "
                    f"at most {MAX_TRANSIT_DAYS[hc]} allowed."
                )
        elif hc == "hazmat" and service.mode == "air":
            problems.append(f"SKU {p.sku} is hazmat and may not go by air ({service.name}).")
        elif hc == "oversized" and not service.oversized:
            problems.append(f"SKU {p.sku} is oversized and needs an oversized service, not {service.name}.")
        if hc != "oversized" and service.oversized and not any(q.handling_class == "oversized" for q in products):
            problems.append(f"{service.name} is only for oversized goods.")
            break
    if same_day and service.mode != "courier":
        problems.append(f"Same-day orders go by local courier, not {service.name}.")
    return list(dict.fromkeys(problems))


def service_for(*, products: list, location, service_level: str = "standard", same_day: bool = False) -> str:
    """The default service for a parcel: the level's service unless the goods need another one."""
    if same_day:
        return "local_courier"
    services = carrier_services()
    preferred = [DEFAULT_FOR_LEVEL.get(service_level, "ups_ground")] + [
        c for c, s in sorted(services.items(), key=lambda kv: kv[1].transit_days) if s.mode != "courier"
    ]
    for code in preferred:
        if code in services and not handling_problems(service=services[code], products=products, location=location):
            return code
    return preferred[0]
