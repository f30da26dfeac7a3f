"""The customer's public pages (no sign-in): the "I'm here" check-in of a pickup order.

The link in the ready-for-pickup e-mail carries a signed, expiring token (fulfillment.services.checkin);
the page shows the order's store and number, never the pickup code or the customer's details, and is rate
limited per client address. A bad or tampered link is a 404 page, an expired one a 410, an order already
collected or cancelled a 409, too many requests a 429: each says so in words.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods

from common.security import client_ip
from fulfillment import services


def _too_many(request) -> bool:
    """At most DOM["CHECKIN_REQUESTS_PER_MINUTE"] check-in requests per client address and minute."""
    limit = int(settings.DOM.get("CHECKIN_REQUESTS_PER_MINUTE", 30))
    key = f"checkin-rate:{client_ip(request)}:{int(time.time() // 60)}"
    cache.add(key, 0, timeout=90)
    try:
        return cache.incr(key) > limit
    except ValueError:  # the key expired between add and incr
        return False


def _refuse(request, *, status: int, title: str, message: str):
    return render(
        request, "fulfillment/checkin.html", {"refused": True, "title": title, "message": message}, status=status
    )


@csrf_protect
@require_http_methods(["GET", "POST"])
def checkin(request, token: str):
    if _too_many(request):
        return _refuse(
            request,
            status=429,
            title="Please wait a minute",
            message="Too many tries from this device. Try again in a minute.",
        )
    try:
        fo = services.pickup_checkin_resolve(token=token)
    except services.CheckinLinkExpired:
        return _refuse(
            request,
            status=410,
            title="This link has expired",
            message="Check-in links work for a limited time. Tell a store associate that you are here.",
        )
    except services.CheckinLinkInvalid:
        return _refuse(
            request,
            status=404,
            title="This link is not valid",
            message="Open the link from your pickup e-mail again, or tell a store associate that you are here.",
        )
    context = {"fo": fo, "store": fo.location, "error": "", "done": None, "note": fo.customer_arrival_note}
    if request.method == "POST":
        note = request.POST.get("note", "")
        context["note"] = note
        try:
            context["done"] = services.pickup_checkin_record(token=token, note=note)
            context["fo"] = context["done"].fo
        except services.CheckinClosed as exc:
            return _refuse(
                request,
                status=409,
                title="Nothing to collect",
                message=f"Order {exc.fo.order.number} is {exc.fo.get_status_display().lower()}.",
            )
        except ValidationError as exc:
            context["error"] = " ".join(exc.messages)
            return render(request, "fulfillment/checkin.html", context, status=400)
    elif fo.status not in services.CHECKIN_OPEN:
        return _refuse(
            request,
            status=409,
            title="Nothing to collect",
            message=f"Order {fo.order.number} is {fo.get_status_display().lower()}.",
        )
    return render(request, "fulfillment/checkin.html", context)
