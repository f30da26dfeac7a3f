"""Store screens say things in the clerk's words: the stock effect of a short pick before it is confirmed,
what happened to each line, no pickup code, no raw codes, no scores. Operations pages: the order explains
its routing; a refusal (403) is a page of the base layout with the reason and a way back."""

import re
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from bench.factories import level, make_fo
from fulfillment.carriers import DEFAULT_SERVICES
from fulfillment.models import FulfillmentOrder, RejectionReason
from fulfillment.services import (
    fulfillment_line_pick,
    fulfillment_line_short,
    fulfillment_order_pack,
    fulfillment_order_ready,
    fulfillment_order_ship,
)

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}


class _Text(HTMLParser):
    """The text a person reads (no attributes, scripts or styles)."""

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("script", "style")

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style") and self._skip > 0

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def visible_text(html: str) -> str:
    p = _Text()
    p.feed(html)
    return " ".join(" ".join(p.parts).split())


RAW_CODES = {s.code for s in DEFAULT_SERVICES} | {
    "not_in_stock",
    "cant_find",
    "avoid_split",
    "location_rejected",
    "ready_for_pickup",
    "picked_up",
    "same_day",
}


def assert_words_not_codes(html: str) -> None:
    text = visible_text(html)
    found = sorted(c for c in RAW_CODES if re.search(rf"\b{c}\b", text))
    assert not found, f"raw codes on screen: {found}"
    snake = re.findall(r"\b[a-z]+_[a-z_]+\b", text)
    assert not snake, f"snake_case on screen: {snake}"
    assert "priority" not in text.lower() and "fraud" not in text.lower()


@pytest.fixture
def clerk(client, store_user):
    client.force_login(store_user)
    return client


def act(client, fo, action, data):
    return client.post(reverse("fulfillment:order-action", args=[fo.pk, action]), data, headers=HX).content.decode()


def test_short_pick_reason_is_required_and_its_stock_effect_is_stated_before_confirming(
    clerk, pickup_fo, product, store
):
    a = pickup_fo.lines.get(order_line__sku="SKU-A")
    page = clerk.get(reverse("fulfillment:order", args=[pickup_fo.pk])).content.decode()
    # Every reason is a radio choice, none chosen in advance, the choice required, each with its effect.
    radios = re.findall(r'<input type="radio" name="reason" value="([a-z_]+)"([^>]*)>', page)
    assert {"cant_find", "not_in_stock"} <= {code for code, _ in radios}
    assert all("checked" not in rest and "required" in rest for _, rest in radios)
    assert "Can't find it now" in visible_text(page) and "We have none" in page
    assert "No stock change at STORE-0001; the 2 units are re-routed to another location." in page
    assert "Sets on hand of SKU-A at STORE-0001 from 10 to 0" in page
    # Without a reason: refused in words, nothing written.
    r = act(clerk, pickup_fo, "short", {"line": a.pk, "quantity": 2, "confirm": "yes"})
    assert "SKU-A: choose a reason" in r
    a.refresh_from_db()
    assert a.quantity_short == 0 and level(product, store) == (10, 2)
    # "We have none": the confirmation states the effect; only the confirmed post writes.
    r = act(clerk, pickup_fo, "short", {"line": a.pk, "quantity": 2, "reason": "not_in_stock"})
    assert 'id="confirm-short"' in r and "Sets on hand of SKU-A at STORE-0001 from 10 to 0" in r
    assert level(product, store) == (10, 2)
    r = act(clerk, pickup_fo, "short", {"line": a.pk, "quantity": 2, "reason": "not_in_stock", "confirm": "yes"})
    assert "Reported 2 × SKU-A short (We have none)." in r
    assert level(product, store) == (0, 0)


def test_cant_find_it_now_changes_no_stock(clerk, pickup_fo, product, store):
    a = pickup_fo.lines.get(order_line__sku="SKU-A")
    r = act(clerk, pickup_fo, "short", {"line": a.pk, "quantity": 1, "reason": "cant_find"})
    assert "No stock change at STORE-0001; the unit is re-routed to another location." in r
    act(clerk, pickup_fo, "short", {"line": a.pk, "quantity": 1, "reason": "cant_find", "confirm": "yes"})
    a.refresh_from_db()
    assert a.quantity_short == 1 and level(product, store) == (10, 1)  # one unit released, none written off
    assert RejectionReason.objects.get(code="cant_find").stock_effect == RejectionReason.StockEffect.NONE


def test_ready_is_not_offered_while_a_unit_is_open(clerk, pickup_fo, store_user):
    a = pickup_fo.lines.get(order_line__sku="SKU-A")
    fulfillment_line_pick(line_id=a.pk, delta=2, actor=store_user)
    page = clerk.get(reverse("fulfillment:order", args=[pickup_fo.pk])).content.decode()
    assert "Ready for pickup</button>" not in page
    assert "1 unit still to pick" in page and 'id="ready-blocked"' in page
    b = pickup_fo.lines.get(order_line__sku="SKU-B")
    fulfillment_line_pick(line_id=b.pk, delta=1, actor=store_user)
    page = clerk.get(reverse("fulfillment:order", args=[pickup_fo.pk])).content.decode()
    assert "Ready for pickup</button>" in page and 'id="ready-blocked"' not in page


def _ready(fo, actor):
    for ln in fo.lines.all():
        fulfillment_line_pick(line_id=ln.pk, delta=ln.quantity_open, actor=actor)
    return fulfillment_order_ready(fo_id=fo.pk, staging_location="Shelf B2", actor=actor)


def test_pickup_code_never_appears_on_a_staff_screen(clerk, pickup_fo, store_user):
    a = pickup_fo.lines.get(order_line__sku="SKU-A")
    fulfillment_line_pick(line_id=a.pk, delta=2, actor=store_user)
    b = pickup_fo.lines.get(order_line__sku="SKU-B")
    fulfillment_line_pick(line_id=b.pk, delta=1, actor=store_user)
    r = act(clerk, pickup_fo, "ready", {"staging": "Shelf B2"})
    pickup_fo.refresh_from_db()
    code = pickup_fo.pickup_code
    assert pickup_fo.status == "ready_for_pickup" and code
    assert code not in r and "pickup code was emailed to ann@example.com" in r
    r = act(clerk, pickup_fo, "resend", {})
    assert code not in r
    pages = [reverse("fulfillment:queue") + f"?tab={t}" for t in ("pickup_open", "pickup_ready", "pickup_done")]
    pages += [
        reverse("fulfillment:order", args=[pickup_fo.pk]),
        reverse("fulfillment:handover"),
        reverse("fulfillment:handover") + f"?q={pickup_fo.order.number}",
        reverse("fulfillment:handover") + f"?q={code}",  # searching by the code opens the order, never echoes it
        reverse("fulfillment:handoff"),
        reverse("fulfillment:receive"),
        reverse("fulfillment:settings"),
        reverse("returns:receive") + f"?q={pickup_fo.order.number}",
    ]
    for url in pages:
        resp = clerk.get(url, follow=True)
        assert resp.status_code == 200, url
        assert code not in resp.content.decode(), f"pickup code shown on {url}"
    frag = clerk.get(reverse("fulfillment:queue") + "?tab=pickup_ready", headers=HX).content.decode()
    assert "Ann Smith" in frag and code not in frag


def test_each_line_says_what_happened_and_where_a_short_unit_went(clerk, pickup_fo, store_user, store_b, web):
    a = pickup_fo.lines.get(order_line__sku="SKU-A")
    b = pickup_fo.lines.get(order_line__sku="SKU-B")
    fulfillment_line_pick(line_id=a.pk, delta=1, actor=store_user)
    fulfillment_line_short(line_id=a.pk, quantity=1, reason_code="not_in_stock", actor=store_user)
    fulfillment_line_pick(line_id=b.pk, delta=1, actor=store_user)
    page = visible_text(clerk.get(reverse("fulfillment:order", args=[pickup_fo.pk])).content.decode())
    assert "1 unit reported short (We have none): waiting for a new location" in page
    # Routing sends the short unit to the Brooklyn store (as routing does: a new fulfilment order).
    make_fo(order=pickup_fo.order, location=store_b, method="ship", lines=[(a.order_line, 1)])
    fulfillment_order_ready(fo_id=pickup_fo.pk, actor=store_user)
    pickup_fo.refresh_from_db()
    r = act(
        clerk,
        pickup_fo,
        "handover",
        {"code": pickup_fo.pickup_code, "collected_by_name": "Ann Smith", f"qty-{a.pk}": 1, f"qty-{b.pk}": 0},
    )
    text = visible_text(r)
    assert "Handed over to Ann Smith: SKU-A × 1. Each line below says what happened to the rest." in text
    assert "The order is complete" not in text
    assert "1 unit handed over to Ann Smith" in text
    assert "1 unit reported short (We have none): re-routed to Brooklyn store (ship, created)" in text
    assert "waiting for a new location" not in text
    assert "1 unit not taken: cancelled and back on sale" in text  # SKU-B
    assert_words_not_codes(r)


def test_store_screens_use_words_not_codes_and_show_no_scores(clerk, ship_fo_store, store_user, product):
    for ln in ship_fo_store.lines.all():
        fulfillment_line_pick(line_id=ln.pk, delta=ln.quantity_open, actor=store_user)
    fulfillment_order_pack(fo_id=ship_fo_store.pk, weight_grams=900, actor=store_user)
    fulfillment_order_ship(fo_id=ship_fo_store.pk, service="fedex_ground", tracking_number="TRK1", actor=store_user)
    ship_fo_store.order.priority = 972
    ship_fo_store.order.fraud_score = 0
    ship_fo_store.order.save()
    product.image_url = "https://images.example.com/widget.jpg"
    product.save()
    order_page = clerk.get(reverse("fulfillment:order", args=[ship_fo_store.pk])).content.decode()
    assert "FedEx Ground" in order_page
    queue = clerk.get(reverse("fulfillment:queue") + "?tab=ship_shipped").content.decode()
    assert "Ann Smith" in queue and "972" not in queue
    # Items with their photo, or the neutral placeholder.
    assert 'src="https://images.example.com/widget.jpg"' in queue and "img/product-placeholder.svg" in queue
    handoff = clerk.get(reverse("fulfillment:handoff")).content.decode()
    assert "FedEx Ground" in handoff
    for html in (order_page, queue, handoff):
        assert_words_not_codes(html)


def test_order_page_explains_its_routing_and_the_explanation_page_has_the_layout(client, ops_user, web, dc, product):
    from routing.services import order_route
    from routing.tests.helpers import MONDAY_9AM, stock
    from routing.tests.helpers import make_order as routing_order

    stock(product, dc, 5)
    order = routing_order(channel=web, lines=[(product, 2)])
    order_route(order_id=order.pk, now=MONDAY_9AM)
    client.force_login(ops_user)
    page = client.get(reverse("orders:detail", args=[order.pk])).content.decode()
    assert 'id="routing-explanation"' in page and "Rules that fired" in page and "Excluded locations" in page
    assert "DC-EAST" in page and "Candidates (1)" in page
    assert reverse("routing:order-decision", args=[order.pk]) in page
    full = client.get(reverse("routing:order-decision", args=[order.pk])).content.decode()
    assert '<header class="topbar">' in full and f"How order {order.number} was routed" in full
    assert "Rules that fired" in full
    frag = client.get(reverse("routing:order-decision", args=[order.pk]), headers=HX).content.decode()
    assert "<html" not in frag and "routing-decision" in frag


def test_403_is_a_page_of_the_base_layout_with_the_reason_and_a_way_back(client, store_user, pickup_fo):
    client.force_login(store_user)
    resp = client.get(reverse("orders:detail", args=[pickup_fo.order_id]))
    body = resp.content.decode()
    assert resp.status_code == 403
    assert '<header class="topbar">' in body and 'id="forbidden"' in body
    assert "This page needs one of the roles: Operations." in body
    assert f'href="{reverse("home")}"' in body and "Back to your start page" in body


def test_unknown_status_is_never_shown_as_a_code(clerk, pickup_fo):
    pickup_fo.status = FulfillmentOrder.Status.READY_FOR_PICKUP
    pickup_fo.save()
    assert_words_not_codes(clerk.get(reverse("fulfillment:order", args=[pickup_fo.pk])).content.decode())


def test_short_pick_confirmation_says_when_the_whole_order_goes(clerk, pickup_fo, store):
    from fulfillment.services import store_settings_update

    store_settings_update(location=store, allow_partial_rejection=False)
    a = pickup_fo.lines.get(order_line__sku="SKU-A")
    r = act(clerk, pickup_fo, "short", {"line": a.pk, "quantity": 1, "reason": "cant_find"})
    assert "every line of the order is rejected and re-routed" in r


def test_404_is_a_page_of_the_base_layout_with_a_way_back(clerk, settings, web, store_b, product, stocked):
    from bench.factories import make_order

    theirs = make_fo(
        order=make_order(channel=web, lines=[(product, 1)], method="pickup", pickup_location=store_b),
        location=store_b,
        method="pickup",
    )
    settings.DEBUG = False
    resp = clerk.get(reverse("fulfillment:order", args=[theirs.pk]))  # another store's order
    body = resp.content.decode()
    assert resp.status_code == 404
    assert '<header class="topbar">' in body and 'id="not-found"' in body and "Back to your start page" in body
