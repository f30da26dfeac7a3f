"""Store phone screens for stock: the lookup across nearby stores (read-only) and cycle counts that feed
inventory's accuracy figures; all-or-nothing, errors naming the SKU, hostile input a 4xx."""

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from bench.factories import put_stock
from inventory.models import CycleCount, Location, StockLevel
from inventory.selectors import inventory_accuracy

pytestmark = pytest.mark.django_db


@pytest.fixture
def clerk(client, store_user):
    client.force_login(store_user)
    return client


@pytest.fixture
def far_store(db):
    return Location.objects.create(
        code="STORE-0009", name="Boston store", kind="store", postal_code="02108", can_pickup=True
    )


def test_lookup_shows_own_then_nearest_stores_with_distance(clerk, store, store_b, far_store, dc, product):
    put_stock(product, store, 4)
    put_stock(product, store_b, 7)
    put_stock(product, far_store, 2)
    put_stock(product, dc, 100)
    page = clerk.get(reverse("fulfillment:stock") + "?q=sku-a")
    body = page.content.decode()
    assert page.status_code == 200 and 'id="stock-card"' in body
    own, near, far = (body.index(f'data-store="{c}"') for c in ("STORE-0001", "STORE-0002", "STORE-0009"))
    assert own < near < far and "this store" in body and " km" in body
    assert 'data-store="DC-EAST"' not in body  # stores only
    # Several matches: a list to choose from, each a link to the item.
    product.__class__.objects.create(sku="SKU-A2", name="Widget two")
    listing = clerk.get(reverse("fulfillment:stock") + "?q=widget").content.decode()
    assert 'id="stock-card"' not in listing and "sku=SKU-A2" in listing
    assert clerk.get(reverse("fulfillment:stock") + "?q=nothing-like-it").status_code == 200


def test_count_sheet_review_then_confirm_records_cycle_counts(clerk, store, product, product_b):
    put_stock(product, store, 4)
    put_stock(product_b, store, 3)
    sheet = clerk.get(reverse("fulfillment:count"), {"skus": "sku-a\nSKU-B\nNOPE", "shelf": "B2"})
    body = sheet.content.decode()
    assert 'name="count-SKU-A"' in body and "no such SKU: NOPE" in body
    data = {"shelf": "B2", "sku": ["SKU-A", "SKU-B"], "count-SKU-A": "3", "count-SKU-B": "3"}
    review = clerk.post(reverse("fulfillment:count"), data).content.decode()
    assert "Sets on hand of SKU-A at STORE-0001 from 4 to 3." in review
    assert "SKU-B: matches the system (3)" in review
    assert not CycleCount.objects.exists()
    done = clerk.post(reverse("fulfillment:count"), {**data, "confirm": "yes"})
    assert done.status_code == 200 and "Count saved for 2 SKUs" in done.content.decode()
    assert StockLevel.objects.get(product=product, location=store).on_hand == 3
    counts = {c.product.sku: (c.system_quantity, c.counted_quantity, c.note) for c in CycleCount.objects.all()}
    assert counts == {"SKU-A": (4, 3, "Store count, shelf B2"), "SKU-B": (3, 3, "Store count, shelf B2")}
    network, rows = inventory_accuracy()
    assert network.counts == 2 and [r.location_code for r in rows] == ["STORE-0001"]


def test_bad_count_is_400_naming_the_sku_and_writes_nothing(clerk, store, product, product_b):
    put_stock(product, store, 4)
    bad = {"sku": ["SKU-A", "SKU-B"], "count-SKU-A": "2", "count-SKU-B": "-1", "confirm": "yes"}
    page = clerk.post(reverse("fulfillment:count"), bad)
    assert page.status_code == 400 and "SKU-B: count 0 to" in page.content.decode()
    page = clerk.post(reverse("fulfillment:count"), {"sku": ["SKU-A"], "count-SKU-A": "lots", "confirm": "yes"})
    assert page.status_code == 400 and "SKU-A: enter the number" in page.content.decode()
    assert not CycleCount.objects.exists() and StockLevel.objects.get(product=product, location=store).on_hand == 4


def test_other_roles_cannot_count_or_look_up(client, ops_user):
    client.force_login(ops_user)
    assert client.get(reverse("fulfillment:stock")).status_code == 403
    assert client.post(reverse("fulfillment:count"), {}).status_code == 403


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    sku=st.text(max_size=80),
    qty=st.text(max_size=12),
    shelf=st.text(max_size=60),
    confirm=st.sampled_from(["", "yes"]),
)
def test_hostile_count_posts_never_500(clerk, store, product, sku, qty, shelf, confirm):
    strip = lambda s: s.replace("\x00", "")  # noqa: E731
    sku, qty, shelf = strip(sku), strip(qty), strip(shelf)
    data = {"sku": [sku, "SKU-A"], f"count-{sku}": qty, "count-SKU-A": qty, "shelf": shelf, "confirm": confirm}
    response = clerk.post(reverse("fulfillment:count"), data)
    assert response.status_code in (200, 400)
    lookup = clerk.get(reverse("fulfillment:stock"), {"q": sku, "sku": shelf})
    assert lookup.status_code == 200
