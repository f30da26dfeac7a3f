"""Store phone screens for stock: look up a SKU across nearby stores (read-only), count a SKU or a shelf.

Store staff only, at their own store (the lookup shows other stores' stock, read-only, for this purpose
only). Counts go to inventory's cycle counts through `fulfillment.services.store_count_record`; the stock
effect of each line is said before the clerk confirms.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.shortcuts import render

from fulfillment import selectors, services
from fulfillment.views import _current_store, _error_text, store_staff

MAX_QUERY = 100


@store_staff
def stock_lookup(request):
    store, stores = _current_store(request)
    query = request.GET.get("q", "").strip()[:MAX_QUERY]
    products = selectors.products_search(query=query) if query else []
    chosen = None
    if len(products) == 1 or (products and request.GET.get("sku")):
        sku = request.GET.get("sku") or products[0].sku
        chosen = next((p for p in products if p.sku == sku), products[0])
    context = {
        "store": store,
        "stores": stores,
        "query": query,
        "products": products,
        "product": chosen,
        "rows": selectors.store_stock_nearby(product=chosen, location=store) if chosen else [],
    }
    template = "fulfillment/stock.html#results" if request.htmx else "fulfillment/stock.html"
    return render(request, template, context)


def _count_lines(request) -> list[services.CountLine]:
    lines = []
    for sku in request.POST.getlist("sku")[: services.COUNT_MAX_LINES + 1]:
        raw = request.POST.get(f"count-{sku}", "").strip()
        try:
            counted = int(raw)
        except ValueError:
            raise ValidationError(f"{sku}: enter the number of units counted (0 if none), not {raw!r}.") from None
        lines.append(services.CountLine(sku=sku, counted=counted))
    return lines


@store_staff
def count(request):
    """GET ?skus=…: the count sheet (no system figures: a blind count). POST: the review, each line's stock
    effect in words; POST confirm=yes: record."""
    store, stores = _current_store(request)
    source = request.POST if request.method == "POST" else request.GET
    shelf = source.get("shelf", "").strip()[:80]
    raw = source.get("skus", "")[:5000]
    skus = request.POST.getlist("sku") if request.method == "POST" else raw.replace(",", "\n").splitlines()
    found, missing = selectors.store_count_lines(location=store, skus=skus[:250])
    context = {"store": store, "stores": stores, "shelf": shelf, "skus": raw, "lines": found, "missing": missing}
    if request.method == "POST":
        try:
            lines = _count_lines(request)
            if request.POST.get("confirm") == "yes":
                done = services.store_count_record(location=store, lines=lines, shelf=shelf, actor=request.user)
                context.update(done=done, lines=[], skus="")
            else:
                services.store_count_validate(lines=lines, shelf=shelf)
                on_hand = services.store_count_on_hand(location=store, skus=[ln.sku for ln in lines])
                context["review"] = [
                    (
                        ln,
                        services.store_count_effect(
                            location=store, sku=ln.sku, on_hand=on_hand[ln.sku], counted=ln.counted
                        ),
                    )
                    for ln in lines
                ]
        except ValidationError as exc:
            context["error"] = _error_text(exc)
            return render(request, "fulfillment/count.html", context, status=400)
    return render(request, "fulfillment/count.html", context)
