import pytest

from inventory.models import ChannelAllocation, SafetyStockRule
from inventory.selectors import ats_for_products, availability_by_sku, low_stock_products
from inventory.services import ReserveLine, stock_reserve
from inventory.tests.helpers import put_stock

pytestmark = pytest.mark.django_db


def test_ats_is_on_hand_minus_reserved_minus_safety_floored(product, dc, store):
    put_stock(product, dc, 10)
    put_stock(product, store, 2)
    SafetyStockRule.objects.create(location_kind="store", quantity=3)
    stock_reserve(lines=[ReserveLine(product.pk, 4, dc.pk)])
    ats = ats_for_products(product_ids=[product.pk])[product.pk]
    by_code = {la.location_code: la for la in ats.locations}
    assert by_code["DC-EAST"].available == 10 - 4 - 0
    assert by_code["STORE-0001"].available == 0  # 2 − 0 − 3 floored at zero, never negative
    assert ats.available == 6


def test_most_specific_safety_rule_wins(product, product_b, dc, store, store_b):
    SafetyStockRule.objects.create(quantity=1)  # network-wide
    SafetyStockRule.objects.create(location_kind="store", quantity=2)
    SafetyStockRule.objects.create(location=store_b, quantity=3)
    SafetyStockRule.objects.create(product=product, quantity=4)
    SafetyStockRule.objects.create(product=product, location_kind="store", quantity=5)
    SafetyStockRule.objects.create(product=product, location=store, quantity=6)
    for p in (product, product_b):
        for loc in (dc, store, store_b):
            put_stock(p, loc, 20)
    ats = ats_for_products(product_ids=[product.pk, product_b.pk])

    def safety(p, loc):
        return next(la.safety for la in ats[p.pk].locations if la.location_id == loc.pk)

    assert safety(product, store) == 6  # product + location
    assert safety(product, store_b) == 5  # product + kind
    assert safety(product, dc) == 4  # product
    assert safety(product_b, store_b) == 3  # location
    assert safety(product_b, store) == 2  # kind
    assert safety(product_b, dc) == 1  # network-wide
    assert ats[product.pk].available == (20 - 6) + (20 - 5) + (20 - 4)


def test_sql_low_stock_uses_the_same_safety_rules(product, product_b, dc, store, settings):
    settings.DOM = {**settings.DOM, "LOW_STOCK_THRESHOLD": 5}
    SafetyStockRule.objects.create(location_kind="store", quantity=2)
    SafetyStockRule.objects.create(product=product, location=store, quantity=7)
    put_stock(product, dc, 3)
    put_stock(product, store, 8)  # 8 − 7 = 1 → network 4 < 5: low
    put_stock(product_b, store, 9)  # 9 − 2 = 7: fine
    low = {sku: ats for _, sku, ats, _ in low_stock_products()}
    assert low == {"SKU-A": 4}
    python_ats = ats_for_products(product_ids=[product.pk])[product.pk].available
    assert python_ats == 4


def test_percent_pool_caps_a_channel_including_what_it_holds(product, dc, marketplace, web):
    put_stock(product, dc, 100)
    ChannelAllocation.objects.create(channel=marketplace, mode="percent", value=30)
    assert availability_by_sku(skus=["SKU-A"], channel=marketplace)[0].available == 30
    assert availability_by_sku(skus=["SKU-A"], channel=web)[0].available == 100
    stock_reserve(lines=[ReserveLine(product.pk, 20)], channel=marketplace)
    # 80 sellable + 20 held = 100 → 30 % is 30, of which 20 are held already.
    assert availability_by_sku(skus=["SKU-A"], channel=marketplace)[0].available == 10


def test_absolute_pool_for_one_product_beats_blanket_pool(product, product_b, dc, marketplace):
    put_stock(product, dc, 100)
    put_stock(product_b, dc, 100)
    ChannelAllocation.objects.create(channel=marketplace, mode="percent", value=50)
    ChannelAllocation.objects.create(channel=marketplace, product=product, mode="absolute", value=7)
    got = {r.sku: r.available for r in availability_by_sku(skus=["SKU-A", "SKU-B"], channel=marketplace)}
    assert got == {"SKU-A": 7, "SKU-B": 50}


def test_method_filters_locations(product, dc, store, store_b, web):
    put_stock(product, dc, 10)
    put_stock(product, store, 4)
    put_stock(product, store_b, 5)
    store_b.can_pickup = False
    store_b.save()
    assert availability_by_sku(skus=["SKU-A"], method="pickup")[0].available == 4
    dc.can_same_day = True
    dc.save()
    assert availability_by_sku(skus=["SKU-A"], method="same_day")[0].available == 10
    assert availability_by_sku(skus=["SKU-A"], method="ship")[0].available == 19
    store.sell_online = False
    store.save()
    assert availability_by_sku(skus=["SKU-A"], channel=web, method="ship")[0].available == 15


def test_inactive_locations_do_not_count(product, dc, store):
    put_stock(product, dc, 10)
    put_stock(product, store, 4)
    store.is_active = False
    store.save()
    assert availability_by_sku(skus=["SKU-A"])[0].available == 10


def test_ats_for_pairs_matches_the_per_product_figures(product, product_b, dc, store):
    from inventory.selectors import ats_for_pairs

    SafetyStockRule.objects.create(location_kind="store", quantity=1)
    put_stock(product, dc, 5)
    put_stock(product, store, 3)
    put_stock(product_b, store, 1)
    got = ats_for_pairs(
        pairs=[(product.pk, dc.pk), (product.pk, store.pk), (product_b.pk, store.pk), (product_b.pk, dc.pk)]
    )
    assert got == {
        (product.pk, dc.pk): 5,
        (product.pk, store.pk): 2,
        (product_b.pk, store.pk): 0,
        (product_b.pk, dc.pk): 0,
    }


def test_python_safety_resolver_agrees_with_sql(product, product_b, dc, store, store_b):
    from inventory.selectors import SafetyStock

    SafetyStockRule.objects.create(quantity=1)
    SafetyStockRule.objects.create(location_kind="store", quantity=2)
    SafetyStockRule.objects.create(location=store_b, quantity=3)
    SafetyStockRule.objects.create(product=product, quantity=4)
    SafetyStockRule.objects.create(product=product, location_kind="store", quantity=5)
    SafetyStockRule.objects.create(product=product, location=store, quantity=6)
    for p in (product, product_b):
        for loc in (dc, store, store_b):
            put_stock(p, loc, 20)
    resolver = SafetyStock()
    for pa in ats_for_products(product_ids=[product.pk, product_b.pk]).values():
        for la in pa.locations:
            assert la.safety == resolver.quantity(product_id=pa.product_id, location_id=la.location_id, kind=la.kind)


def test_availability_by_sku_lists_only_locations_that_can_sell_ordered_by_ats(product, dc, dc_west, store, store_b):
    SafetyStockRule.objects.create(location_kind="store", quantity=1)
    put_stock(product, dc, 4)
    put_stock(product, dc_west, 9)
    put_stock(product, store, 1)  # 1 − 1 safety = 0: not listed
    put_stock(product, store_b, 5)
    (row,) = availability_by_sku(skus=["SKU-A"])
    # Highest ATS first, ties by code.
    want = [("DC-WEST", 9), ("DC-EAST", 4), ("STORE-0002", 4)]
    assert [(la.location_code, la.available) for la in row.locations] == want
    assert row.available == 17
    # ats_for_products keeps every serving location, zeros included, in the same order.
    got = ats_for_products(product_ids=[product.pk])[product.pk].locations
    assert [(la.location_code, la.available) for la in got] == [*want, ("STORE-0001", 0)]


def test_product_without_stock_or_only_at_locations_not_serving_is_zero(product, product_b, dc, store):
    put_stock(product, store, 5)
    store.can_pickup = False
    store.save()
    rows = availability_by_sku(skus=["SKU-A", "SKU-B"], method="pickup")
    assert [(r.sku, r.available, r.locations) for r in rows] == [("SKU-A", 0, []), ("SKU-B", 0, [])]


def test_location_and_rule_changes_are_seen_by_the_next_read_even_in_the_same_transaction(product, dc, store):
    """The location table is cached per process; every write to locations or location-wide rules (here
    queryset updates, which send no signals, twice in one transaction) must be seen by the next read."""
    from django.db import transaction

    from inventory.models import Location

    put_stock(product, dc, 10)
    put_stock(product, store, 4)
    assert availability_by_sku(skus=["SKU-A"])[0].available == 14
    with transaction.atomic():
        Location.objects.filter(pk=store.pk).update(is_active=False)
        assert availability_by_sku(skus=["SKU-A"])[0].available == 10
        Location.objects.filter(pk=store.pk).update(is_active=True, code="STORE-9")
        assert {la.location_code for la in availability_by_sku(skus=["SKU-A"])[0].locations} == {"DC-EAST", "STORE-9"}
        rule = SafetyStockRule.objects.create(location_kind="warehouse", quantity=2)
        assert availability_by_sku(skus=["SKU-A"])[0].available == 12
        SafetyStockRule.objects.filter(pk=rule.pk).update(quantity=3)
        assert availability_by_sku(skus=["SKU-A"])[0].available == 11
        SafetyStockRule.objects.filter(pk=rule.pk).delete()
        assert availability_by_sku(skus=["SKU-A"])[0].available == 14


def test_a_rolled_back_location_change_is_not_kept(product, dc, store):
    from django.db import transaction

    from inventory.models import Location

    put_stock(product, dc, 10)
    put_stock(product, store, 4)
    with pytest.raises(RuntimeError), transaction.atomic():
        Location.objects.filter(pk=dc.pk).update(is_active=False)
        assert availability_by_sku(skus=["SKU-A"])[0].available == 4
        raise RuntimeError("roll back")
    assert availability_by_sku(skus=["SKU-A"])[0].available == 14


@pytest.mark.django_db(transaction=True)
def test_a_location_change_committed_by_another_connection_is_seen(product, dc, store):
    import threading

    from django.db import connection

    from inventory.models import Location

    put_stock(product, dc, 10)
    put_stock(product, store, 4)
    assert availability_by_sku(skus=["SKU-A"])[0].available == 14

    def other_process():
        try:
            Location.objects.filter(pk=store.pk).update(sell_online=False)
        finally:
            connection.close()

    t = threading.Thread(target=other_process)
    t.start()
    t.join(30)
    assert availability_by_sku(skus=["SKU-A"])[0].available == 14  # no channel: store still counts
    assert ats_for_products(product_ids=[product.pk], channel=web_channel())[product.pk].available == 10


def web_channel():
    from orders.models import Channel

    return Channel.objects.get_or_create(code="web", defaults={"name": "Web", "kind": "web"})[0]
