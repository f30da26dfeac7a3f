"""The rate card (issue 20 §2): ZIP3 zones, billable weight, every surcharge, the routing core pricing with it
(exactly against the MILP oracle), effective-date selection, the CSV door (all or nothing, every bad row named),
the admin's role check and the explanation showing each surcharge."""

import random
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing.core import LineView, NetworkState, order_decide
from routing.models import RateCard, RateCardPrice
from routing.ratecard import (
    DEFAULT_CARD,
    KG_PER_LB,
    billable_lb,
    card_rates,
    package_price,
    unit_billable_lb,
    unit_surcharge,
)
from routing.selectors import decision_explain, network_static, ratecard_effective
from routing.services import RateCardRejected, order_route, ratecard_csv_import, ratecard_csv_rows
from routing.tests.helpers import MONDAY_9AM, make_order, stock
from routing.tests.test_exactness import assert_matches_oracle, random_case
from routing.zip3 import zone_for, zone_for_km

# ---------------------------------------------------------------------------------------------------------
# Zones


@pytest.mark.parametrize(
    ("origin", "dest", "zone"),
    [
        ("10001", "10003", 2),  # the same ZIP3
        ("10001", "90001", 8),  # New York → Los Angeles
        ("10001", "60601", 5),  # New York → Chicago, ~710 miles
        ("10001", "19104", 2),  # New York → Philadelphia, ~80 miles
        ("10001", "96813", 9),  # New York → Honolulu: zone 9 (Hawaii is off the contiguous zones)
        ("99501", "10001", 9),  # Anchorage → New York
        ("00901", "33101", 9),  # San Juan → Miami
        ("96813", "96814", 2),  # within Honolulu: distance zones
    ],
)
def test_zone_from_zip3_centroids(origin, dest, zone):
    assert zone_for(origin_zip=origin, dest_zip=dest) == zone


def test_zone_breaks_in_miles_and_unknown_zips():
    mi = 1.609344
    assert [zone_for_km(m * mi) for m in (0, 150, 151, 300, 301, 600, 601, 1000, 1001, 1400, 1401, 1800, 1801)] == [
        2,
        2,
        3,
        3,
        4,
        4,
        5,
        5,
        6,
        6,
        7,
        7,
        8,
    ]
    assert zone_for(origin_zip="10001", dest_zip="ABCDE") is None
    assert zone_for(origin_zip="", dest_zip="10001") is None


# ---------------------------------------------------------------------------------------------------------
# Billable weight and surcharges


def test_billable_weight_is_the_larger_of_actual_and_dimensional_rounded_up():
    assert billable_lb(weight_kg=2.0, dims_in=(0, 0, 0)) == 5  # 4.41 lb → 5
    assert billable_lb(weight_kg=0.2, dims_in=(12, 10, 8)) == 7  # 960 / 139 = 6.9 lb of box → 7
    assert billable_lb(weight_kg=5.0, dims_in=(12, 10, 8)) == 12  # 11.02 lb actual beats 6.9 dimensional
    assert billable_lb(weight_kg=0.05, dims_in=(2, 2, 2)) == 1  # never under one pound
    assert unit_billable_lb(weight_kg=KG_PER_LB * 3, dims_in=(0, 0, 0)) == pytest.approx(3.0)


def test_each_surcharge_of_a_package():
    card = DEFAULT_CARD
    plain = package_price(card=card, service="ground", zone=5, billable=2.2, residential=False, remote=False)
    # zone 5 ground: $9.90 the first pound + $0.65 × 2 more (2.2 → 3 lb), then fuel 15 %.
    assert plain["billable_lb"] == 3 and plain["base"] == pytest.approx(9.90 + 2 * 0.65)
    assert plain["residential"] == plain["remote_area"] == plain["additional_handling"] == plain["oversize"] == 0
    assert plain["fuel"] == pytest.approx(0.15 * plain["base"])
    assert plain["total"] == pytest.approx(1.15 * plain["base"])
    home = package_price(card=card, service="ground", zone=5, billable=2.2, residential=True, remote=True)
    assert home["residential"] == 5.50 and home["remote_area"] == card.remote_area
    assert home["total"] == pytest.approx(1.15 * (plain["base"] + 5.50 + card.remote_area))
    heavy = package_price(
        card=card, service="ground", zone=5, billable=60, residential=False, remote=False,
        surcharges=("additional_handling",),
    )  # fmt: skip
    assert heavy["additional_handling"] == card.additional_handling
    big = package_price(
        card=card, service="ground", zone=5, billable=60, residential=False, remote=False, surcharges=("oversize",)
    )
    assert big["oversize"] == card.oversize and big["additional_handling"] == 0


def test_unit_surcharges_by_weight_length_and_girth():
    card = DEFAULT_CARD
    assert unit_surcharge(card=card, weight_kg=1.0, dims_in=(12, 10, 8)) == ""
    assert unit_surcharge(card=card, weight_kg=51 * KG_PER_LB, dims_in=(12, 10, 8)) == "additional_handling"
    assert unit_surcharge(card=card, weight_kg=1.0, dims_in=(49, 6, 6)) == "additional_handling"  # longer than 48 in
    assert unit_surcharge(card=card, weight_kg=1.0, dims_in=(60, 20, 20)) == "oversize"  # 60 + 80 > 130 in


def test_light_parcel_under_one_pound_and_ground_above():
    card = DEFAULT_CARD
    light = package_price(card=card, service="light_parcel", zone=4, billable=0.8, residential=False, remote=False)
    assert light["service"] == "light_parcel" and light["base"] == pytest.approx(5.50)
    over = package_price(card=card, service="light_parcel", zone=4, billable=1.3, residential=False, remote=False)
    assert over["service"] == "ground" and over["base"] == pytest.approx(9.40 + 0.55)


# ---------------------------------------------------------------------------------------------------------
# The routing core on the card


def _with_card(static):
    from dataclasses import replace

    rates = {**card_rates(DEFAULT_CARD), "same_day": static.rates["same_day"]}
    return replace(static, card=DEFAULT_CARD, rates=rates)


@pytest.mark.parametrize("seed", range(120))
def test_routing_on_the_rate_card_matches_the_milp_oracle(seed):
    rng = random.Random(seed)
    static, state, order = random_case(rng)
    static = _with_card(static)
    dims = [(rng.uniform(2, 40), rng.uniform(2, 20), rng.uniform(1, 12)) for _ in order.lines]
    lines = tuple(
        LineView(ln.id, ln.product_id, ln.sku, ln.quantity, ln.handling_class, ln.weight_kg, d)
        for ln, d in zip(order.lines, dims, strict=True)
    )
    from dataclasses import replace

    order = replace(order, lines=lines, residential=rng.random() < 0.8)
    ours = assert_matches_oracle(static, state, order)
    for s in ours.shipments:  # each parcel's price is the carrier's, part by part
        assert s.shipping == pytest.approx(s.charges["total"])
        if s.method == "ship" and order.residential:
            assert s.charges["residential"] == 5.50


def test_a_one_unit_parcel_costs_in_the_plan_what_the_carrier_charges():
    rng = random.Random(7)
    static, _, order = random_case(rng)
    static = _with_card(static)
    from dataclasses import replace

    line = LineView(1, 1, "P1", 1, "ambient", 2.0, (14.0, 10.0, 6.0))
    order = replace(order, lines=(line,), service_level="standard", residential=True)
    loc_id = next(i for i, loc in static.locations.items() if "ambient" in loc.handling_classes and loc.is_active)
    state = NetworkState(stock={1: {loc_id: 5}})
    d = order_decide(order=order, static=static, state=state)
    (s,) = d.shipments
    loc = static.locations[loc_id]
    assert s.charges["residential"] == 5.50 and s.charges["fuel"] > 0
    # The optimizer's objective for this parcel (the model) equals the exact price plus handling.
    assert d.model_cost == pytest.approx(s.charges["total"] + loc.handling_per_order + loc.handling_per_unit)


# ---------------------------------------------------------------------------------------------------------
# Rate cards as data


def _card(version: int, effective: date, *, ground_zone_2: str = "8.50") -> RateCard:
    card = RateCard.objects.create(carrier="Test carrier", version=version, effective_from=effective)
    prices = []
    for service in ("ground", "express", "overnight"):
        for zone in range(2, 10):
            base = Decimal(ground_zone_2) if (service, zone) == ("ground", 2) else Decimal("20.00")
            prices.append(RateCardPrice(card=card, service=service, zone=zone, base=base, per_lb=1, transit_days=2))
    RateCardPrice.objects.bulk_create(prices)
    return card


@pytest.mark.django_db
def test_the_effective_version_is_the_latest_whose_date_has_come():
    RateCard.objects.all().delete()
    v1 = _card(1, date(2026, 1, 1))
    v2 = _card(2, date(2026, 6, 1), ground_zone_2="9.99")
    assert ratecard_effective(day=date(2025, 12, 31)) is None
    assert ratecard_effective(day=date(2026, 5, 31)) == v1
    assert ratecard_effective(day=date(2026, 6, 1)) == v2
    assert ratecard_effective(day=date(2027, 1, 1)) == v2


@pytest.mark.django_db
def test_the_network_snapshot_prices_with_the_effective_card(monkeypatch):
    from django.utils import timezone

    RateCard.objects.all().delete()
    _card(1, date(2026, 1, 1))
    _card(2, date(2026, 6, 1), ground_zone_2="9.99")
    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: date(2026, 5, 1))
    assert network_static().card.version == 1
    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: date(2026, 6, 1))
    static = network_static()  # a new day: the snapshot reloads without a revision bump
    assert static.card.version == 2
    assert static.rates["standard"].bands[0].base == pytest.approx((9.99 - 1) * 1.15)


GOOD = "service,zone,max_lb,base,per_lb,transit_days\n" + "".join(
    f"{s},{z},,{10 + z}.00,1.00,{min(z, 5)}\n" for s in ("ground", "express", "overnight") for z in range(2, 10)
)


@pytest.mark.django_db
def test_csv_import_creates_a_version_and_exports_it_back():
    card = ratecard_csv_import(
        text=GOOD + "light_parcel,2,1,4.50,0,1\n", carrier="X", version=3, effective_from=date(2027, 1, 1)
    )
    assert card.prices.count() == 25
    rows = ratecard_csv_rows(card=card)
    assert rows[0] == ["service", "zone", "max_lb", "base", "per_lb", "transit_days"]
    assert ["light_parcel", 2, 1, Decimal("4.50"), Decimal("0.00"), 1] in rows


@pytest.mark.django_db
def test_csv_import_refuses_bad_rows_naming_each_and_writes_nothing():
    before = RateCard.objects.count()
    bad = GOOD + "ground,12,,1.00,1.00,2\nexpress,3,x,1.00,1.00,2\nteleport,4,,1,1,1\nground,2,,-1,1,1\n"
    with pytest.raises(RateCardRejected) as exc:
        ratecard_csv_import(text=bad, carrier="X", version=1, effective_from=date(2027, 1, 1))
    named = {(e.row, e.field) for e in exc.value.errors}
    assert {(26, "zone"), (27, "max_lb"), (28, "service"), (29, "base")} <= named
    with pytest.raises(RateCardRejected) as exc:  # a zone without an open-ended row
        ratecard_csv_import(text=GOOD.replace("overnight,9,,19.00", "overnight,9,70,19.00"), carrier="X", version=1,
                            effective_from=date(2027, 1, 1))  # fmt: skip
    assert any(e.field == "overnight" and "zone 9" in e.message for e in exc.value.errors)
    with pytest.raises(RateCardRejected) as exc:  # duplicates name both rows
        ratecard_csv_import(
            text=GOOD + "ground,2,,1.00,1.00,1\n", carrier="X", version=1, effective_from=date(2027, 1, 1)
        )
    assert any(e.row == 26 and "row 2" in e.message for e in exc.value.errors)
    assert RateCard.objects.count() == before and not RateCard.objects.filter(carrier="X").exists()


CELL = st.one_of(
    st.text(max_size=6),
    st.integers(-5, 12).map(str),
    st.decimals(-2, 200, places=3).map(str),
    st.sampled_from(["NaN", "Infinity", "-0", "1e999", "=1+1", " 3 "]),
    st.just(""),
)


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(extra=st.lists(st.lists(CELL, min_size=0, max_size=8), max_size=4))
def test_csv_door_is_all_or_nothing_for_any_rows(extra):
    from common.csv import csv_text

    text = GOOD + csv_text(header=None, rows=extra)
    before = RateCardPrice.objects.count()
    try:
        card = ratecard_csv_import(text=text, carrier="H", version=1, effective_from=date(2027, 1, 1))
    except RateCardRejected as exc:
        assert exc.errors and all(e.row == 0 or e.row >= 2 for e in exc.errors)
        assert RateCardPrice.objects.count() == before and not RateCard.objects.filter(carrier="H").exists()
    else:
        assert card.prices.count() == RateCardPrice.objects.count() - before
        card.delete()


# ---------------------------------------------------------------------------------------------------------
# Admin and explanation


@pytest.fixture
def default_card(db) -> RateCard:
    """The default card the data migration seeds (re-seeded here when a transactional test flushed it)."""
    import importlib

    from django.apps import apps

    from routing.services import routing_revision_bump

    if not RateCard.objects.exists():
        importlib.import_module("routing.migrations.0054_default_ratecard").forwards(apps, None)
        routing_revision_bump()
    return RateCard.objects.order_by("-effective_from").first()


@pytest.mark.django_db
def test_admin_rate_cards_are_for_merchandisers_to_change_and_operations_to_view(
    client, merch_user, ops_user, store_user, default_card
):
    from django.contrib.auth.models import User

    User.objects.filter(pk__in=[merch_user.pk, ops_user.pk, store_user.pk]).update(is_staff=True)
    card = default_card
    client.force_login(merch_user)
    assert client.get(f"/admin/routing/ratecard/{card.pk}/change/").status_code == 200
    assert client.get("/admin/routing/ratecard/import/").status_code == 200
    client.force_login(ops_user)
    assert client.get("/admin/routing/ratecard/").status_code == 200  # view
    assert client.get("/admin/routing/ratecard/import/").status_code == 403
    r = client.post(f"/admin/routing/ratecard/{card.pk}/change/", {"carrier": "Hacked"})
    assert r.status_code == 403
    client.force_login(store_user)
    assert client.get("/admin/routing/ratecard/").status_code == 403


@pytest.mark.django_db
def test_admin_import_refuses_a_bad_file_and_names_its_rows(client, merch_user):
    from django.contrib.auth.models import User
    from django.core.files.uploadedfile import SimpleUploadedFile

    User.objects.filter(pk=merch_user.pk).update(is_staff=True)
    client.force_login(merch_user)
    upload = SimpleUploadedFile("card.csv", (GOOD + "ground,99,,1,1,1\n").encode())
    r = client.post(
        "/admin/routing/ratecard/import/",
        {"carrier": "Y", "version": 1, "effective_from": "2027-01-01", "file": upload},
    )
    assert r.status_code == 400 and b"Row 26, zone" in r.content
    assert not RateCard.objects.filter(carrier="Y").exists()


@pytest.mark.django_db
def test_the_explanation_shows_each_surcharge_of_each_shipment(client, web, dc, product, merch_user, default_card):
    stock(product, dc, 5)
    order = make_order(channel=web, lines=[(product, 1)])
    d = order_route(order_id=order.pk, now=MONDAY_9AM)
    (shipment,) = decision_explain(decision=d)["plan"]
    labels = dict(shipment["charge_lines"])
    assert {"Base rate", "Residential surcharge", "Fuel surcharge"} <= set(labels)
    assert sum(labels.values()) == pytest.approx(shipment["shipping"], abs=0.02)
    client.force_login(merch_user)
    page = client.get(f"/routing/orders/{order.pk}/decision/").content.decode()
    assert "Residential surcharge" in page and "Fuel surcharge" in page and "zone 2" in page


# ---------------------------------------------------------------------------------------------------------
# Store work and transfers (issue 20 §2.2)


def _two_site_case(*, pickup: bool, per_line: float = 0.0):
    from dataclasses import replace

    rng = random.Random(3)
    static, _, order = random_case(rng)
    static = _with_card(static)
    (dc_id, dc), (store_id, store) = list(static.locations.items())[:2]
    locations = {
        dc_id: replace(
            dc, kind="warehouse", is_active=True, daily_capacity=100, handling_classes=frozenset({"ambient"})
        ),
        store_id: replace(
            store, kind="store", is_active=True, can_pickup=True, daily_capacity=100,
            handling_classes=frozenset({"ambient"}), handling_per_line=per_line,
        ),
    }  # fmt: skip
    from routing.rules import Resolver, ruleset_compile

    rules = ruleset_compile(version_id=None, label="none", rules=[], resolver=Resolver({}, {}))
    static = replace(static, locations=locations, rules=rules)
    # Whole pounds, so the objective's per-unit rounding is the carrier's per-package one.
    lines = (LineView(1, 1, "P1", 2, "ambient", 2 * KG_PER_LB), LineView(2, 2, "P2", 1, "ambient", KG_PER_LB))
    order = replace(
        order,
        lines=lines,
        method="ship_to_store" if pickup else "ship",
        service_level="standard",
        pickup_location_id=store_id if pickup else None,
    )
    return static, order, dc_id, store_id


def test_a_transfer_to_the_pickup_store_rides_the_truck_not_a_parcel():
    static, order, dc_id, store_id = _two_site_case(pickup=True)
    state = NetworkState(stock={1: {dc_id: 5}, 2: {dc_id: 5}})  # the store has none: sent from the DC
    d = order_decide(order=order, static=static, state=state)
    (s,) = d.shipments
    assert s.location_id == dc_id and s.method == "transfer"
    share = DEFAULT_CARD.truck_run_cost / DEFAULT_CARD.truck_units_per_run
    assert s.charges["service"] == "truck" and s.shipping == pytest.approx(3 * share)
    assert "residential" not in s.charges and "fuel" not in s.charges
    assert_matches_oracle(static, state, order)


def test_store_labour_is_priced_per_order_line_and_unit():
    static, order, _, store_id = _two_site_case(pickup=False, per_line=0.40)
    state = NetworkState(stock={1: {store_id: 5}, 2: {store_id: 5}})
    d = order_decide(order=order, static=static, state=state)
    (s,) = d.shipments
    store = static.locations[store_id]
    assert s.handling == pytest.approx(store.handling_per_order + 2 * 0.40 + 3 * store.handling_per_unit)
    # The objective carries the same labour (each line picked at one place): it is what is reported.
    assert d.cost == pytest.approx(d.model_cost) and d.model_cost == pytest.approx(s.shipping + s.handling)
    assert_matches_oracle(static, state, order)


@pytest.mark.django_db
def test_csv_import_refuses_an_unreadable_row_a_version_past_the_bound_and_a_carrier_on_two_lines():
    from routing.services import RATECARD_MAX_VERSION

    huge_cell = GOOD + 'ground,2,5,"' + "1" * 200_000 + '",1,1\n'  # over the csv module's field limit
    with pytest.raises(RateCardRejected) as exc:
        ratecard_csv_import(text=huge_cell, carrier="X", version=1, effective_from=date(2027, 1, 1))
    assert [(e.row, e.field) for e in exc.value.errors] == [(26, "row")]
    for carrier, version, field in (("X", RATECARD_MAX_VERSION + 1, "version"), ("A\nB", 1, "carrier")):
        with pytest.raises(RateCardRejected) as exc:
            ratecard_csv_import(text=GOOD, carrier=carrier, version=version, effective_from=date(2027, 1, 1))
        assert [e.field for e in exc.value.errors] == [field]
    assert not RateCard.objects.filter(carrier__in=["X", "A\nB"]).exists()


@pytest.mark.django_db
def test_the_export_file_name_is_safe_for_a_header():
    from routing.services import ratecard_csv_filename

    card = ratecard_csv_import(text=GOOD, carrier="=cmd|' /C \"calc\"'!A0", version=2, effective_from=date(2027, 1, 1))
    assert ratecard_csv_filename(card=card) == "ratecard-cmd-C-calc-A0-v2.csv"
