"""Words, not codes, on the store screens: carrier services by name."""

from django import template

from fulfillment.carriers import carrier_services

register = template.Library()


@register.filter
def service_label(code: str) -> str:
    """`fedex_ground` → "FedEx Ground"; an unknown code is shown in words ("some_service" → "Some service")."""
    svc = carrier_services().get(code or "")
    if svc is not None:
        return svc.name
    return (code or "").replace("_", " ").capitalize()


@register.filter
def words(code: str) -> str:
    """A stored code in words for a screen: `same_day` → "Same day"."""
    return str(code or "").replace("_", " ").capitalize()
