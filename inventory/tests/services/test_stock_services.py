from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from inventory.models import InventoryMovement, Reservation, StockLevel
from inventory.services import (
    InsufficientStock,
    ReserveLine,
    reservation_consume,
    reservation_expire_due,
    reservation_release,
    stock_adjust,
    stock_receive,
    stock_reserve,
    stock_set_on_hand,
)
from inventory.tests.helpers import assert_ledger_matches_levels, put_stock

pytestmark = pytest.mark.django_db


def level(product, location) -> StockLevel:
    return StockLevel.objects.get(product=product, location=location)


def test_every_service_keeps_the_ledger_equal_to_levels(product, product_b, dc, store):
    put_stock(product, dc, 10)
    assert_ledger_matches_levels()
    stock_receive(product=product_b, location=store, quantity=5)
    assert_ledger_matches_levels()
    stock_adjust(product=product, location=dc, delta=-2, reference="damaged in aisle")
    assert_ledger_matches_levels()
    res = stock_reserve(lines=[ReserveLine(product.pk, 3, dc.pk), ReserveLine(product_b.pk, 2)])
    assert_ledger_matches_levels()
    line = res.lines.get(product=product)
    reservation_consume(reservation=res, quantities={line.pk: 2})
    assert_ledger_matches_levels()
    reservation_release(reservation=res)
    assert_ledger_matches_levels()
    stock_set_on_hand(product=product, location=dc, on_hand=1)
    assert_ledger_matches_levels()
    assert level(product, dc).on_hand == 1 and level(product, dc).reserved == 0
    assert InventoryMovement.objects.filter(reason="consume").get().delta_on_hand == -2


def test_reserve_is_all_or_nothing(product, product_b, dc):
    put_stock(product, dc, 5)
    put_stock(product_b, dc, 1)
    with pytest.raises(InsufficientStock) as exc:
        stock_reserve(lines=[ReserveLine(product.pk, 5), ReserveLine(product_b.pk, 2)])
    assert [s.as_dict() for s in exc.value.shortages] == [{"sku": "SKU-B", "requested": 2, "available": 1}]
    assert level(product, dc).reserved == 0
    assert not Reservation.objects.exists()
    assert not InventoryMovement.objects.filter(reason="reserve").exists()


def test_reserve_without_location_takes_from_most_ats_and_splits(product, dc, store):
    put_stock(product, dc, 3)
    put_stock(product, store, 4)
    res = stock_reserve(lines=[ReserveLine(product.pk, 6)])
    got = {ln.location.code: ln.quantity for ln in res.lines.select_related("location")}
    assert got == {"STORE-0001": 4, "DC-EAST": 2}


def test_same_product_on_two_lines_counts_both(product, dc):
    put_stock(product, dc, 3)
    with pytest.raises(InsufficientStock):
        stock_reserve(lines=[ReserveLine(product.pk, 2, dc.pk), ReserveLine(product.pk, 2, dc.pk)])


def test_reserve_respects_safety_stock(product, store):
    from inventory.models import SafetyStockRule

    put_stock(product, store, 3)
    SafetyStockRule.objects.create(location_kind="store", quantity=1)
    with pytest.raises(InsufficientStock) as exc:
        stock_reserve(lines=[ReserveLine(product.pk, 3, store.pk)])
    assert exc.value.shortages[0].available == 2


def test_negative_stock_is_refused_with_sku_and_location(product, dc):
    put_stock(product, dc, 1)
    with pytest.raises(ValidationError, match="SKU-A at DC-EAST"):
        stock_adjust(product=product, location=dc, delta=-2)
    assert level(product, dc).on_hand == 1


def test_database_refuses_negative_levels_even_around_services(product, dc):
    put_stock(product, dc, 1)
    with pytest.raises(IntegrityError), transaction.atomic():
        StockLevel.objects.filter(product=product, location=dc).update(reserved=-1)


def test_release_twice_is_harmless(product, dc):
    put_stock(product, dc, 4)
    res = stock_reserve(lines=[ReserveLine(product.pk, 4)])
    reservation_release(reservation=res)
    reservation_release(reservation=res)
    assert level(product, dc).reserved == 0
    assert InventoryMovement.objects.filter(reason="release").count() == 1


def test_consume_lowers_on_hand_and_reserved_together(product, dc):
    put_stock(product, dc, 4)
    res = stock_reserve(lines=[ReserveLine(product.pk, 3)])
    reservation_consume(reservation=res)
    lv = level(product, dc)
    assert (lv.on_hand, lv.reserved) == (1, 0)
    res.refresh_from_db()
    assert res.status == "consumed"
    with pytest.raises(ValidationError):
        reservation_consume(reservation=res)


def test_expiry_releases_only_expired_and_is_idempotent(product, dc):
    put_stock(product, dc, 10)
    short = stock_reserve(lines=[ReserveLine(product.pk, 2)], ttl=timedelta(minutes=15))
    long = stock_reserve(lines=[ReserveLine(product.pk, 3)], ttl=timedelta(hours=2))
    forever = stock_reserve(lines=[ReserveLine(product.pk, 1)])
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        assert reservation_expire_due() == 1
        assert reservation_expire_due() == 0
    statuses = {r.pk: r.status for r in Reservation.objects.all()}
    assert statuses == {short.pk: "expired", long.pk: "active", forever.pk: "active"}
    assert level(product, dc).reserved == 4
    assert InventoryMovement.objects.filter(reason="expire").count() == 1
    assert_ledger_matches_levels()


def test_setup_schedules_is_idempotent():
    from django.core.management import call_command
    from django_q.models import Schedule

    call_command("setup_schedules")
    call_command("setup_schedules")
    s = Schedule.objects.get(func="inventory.tasks.expire_reservations")
    assert s.minutes == 1 and Schedule.objects.filter(func=s.func).count() == 1


# StockLevel and the ledger carry no database FK checks (migration 0006: they cost ~9 s per million
# rows on bulk loads), so the services must refuse ids that do not exist and Django must keep PROTECT.


def test_unknown_product_or_location_ids_never_get_a_stock_row(product, dc):
    from inventory.services import StockChange, stock_apply_changes

    for bad in (StockChange(product.pk + 10_000, dc.pk, 5), StockChange(product.pk, dc.pk + 10_000, 5)):
        with pytest.raises(ValidationError, match="Unknown (product|location) id"):
            stock_apply_changes(changes=[StockChange(product.pk, dc.pk, 1), bad], reason="receive")
    assert not StockLevel.objects.exists()
    assert not InventoryMovement.objects.exists()


def test_the_staged_merge_refuses_unknown_ids_and_writes_nothing(product, dc):
    from inventory.services import stock_merge_staged
    from inventory.tests.helpers import stage_rows

    put_stock(product, dc, 2)
    with transaction.atomic():
        # The first row changes an existing level, the second names no product: caught inside the caller's
        # own transaction, the merge must still have left nothing behind.
        stage_rows("t_unknown", [(2, product.pk, dc.pk, 7), (3, product.pk + 10_000, dc.pk, 1)])
        with pytest.raises(ValidationError, match="Unknown product id"):
            stock_merge_staged(table="t_unknown", reason="import")
        assert level(product, dc).on_hand == 2
        stage_rows("t_unknown_loc", [(2, product.pk, dc.pk + 10_000, 1)])
        with pytest.raises(ValidationError, match="location id"):
            stock_merge_staged(table="t_unknown_loc", reason="import")
    assert level(product, dc).on_hand == 2
    assert StockLevel.objects.count() == 1
    assert_ledger_matches_levels()


def test_products_and_locations_with_stock_or_ledger_rows_cannot_be_deleted(product, dc, inventory_user):
    from django.db.models import ProtectedError

    put_stock(product, dc, 3)
    with pytest.raises(ProtectedError):
        product.delete()
    with pytest.raises(ProtectedError):
        dc.delete()
    StockLevel.objects.all().delete()  # only the ledger is left: still protected
    with pytest.raises(ProtectedError):
        product.delete()


def test_deleting_a_user_keeps_their_ledger_rows_without_the_actor(product, dc, inventory_user):
    stock_adjust(product=product, location=dc, delta=4, actor=inventory_user)
    assert InventoryMovement.objects.get().actor == inventory_user
    inventory_user.delete()
    move = InventoryMovement.objects.get()
    assert move.actor_id is None and move.delta_on_hand == 4


def test_a_merge_by_index_lookups_leaves_the_callers_planner_settings(product, product_b, dc, store, monkeypatch):
    from django.db import connection

    from inventory.services import stock_merge_staged
    from inventory.services.merge import _merge_by_index
    from inventory.tests.helpers import stage_rows

    assert _merge_by_index(staged=1_000, stock_rows=1_000_000)
    assert not _merge_by_index(staged=500_000, stock_rows=1_000_000)
    assert not _merge_by_index(staged=10, stock_rows=-1)  # never analyzed: leave it to the planner
    if connection.vendor != "postgresql":
        pytest.skip("planner settings are PostgreSQL's")
    monkeypatch.setattr("inventory.services.merge._merge_by_index", lambda **_: True)

    def settings() -> tuple:
        with connection.cursor() as cur:
            cur.execute("SELECT current_setting('enable_hashjoin'), current_setting('enable_mergejoin')")
            return cur.fetchone()

    put_stock(product, dc, 2)
    put_stock(product_b, dc, 3)
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("SET LOCAL enable_mergejoin = off")  # the caller's own choice stays
        stage_rows("t_by_index", [(2, product.pk, dc.pk, 7), (3, product_b.pk, dc.pk, 1), (4, product.pk, store.pk, 5)])
        result = stock_merge_staged(table="t_by_index", reason="import")
        assert (result.rows_changed, result.rows_created, result.movements) == (2, 1, 3)
        assert settings() == ("on", "off")
        stage_rows("t_by_index_bad", [(2, product.pk, dc.pk, 9), (3, product.pk + 10_000, dc.pk, 1)])
        with pytest.raises(ValidationError):
            stock_merge_staged(table="t_by_index_bad", reason="import")
        assert settings() == ("on", "off")
    assert level(product, dc).on_hand == 7 and level(product_b, dc).on_hand == 1
    assert level(product, store).on_hand == 5
    assert_ledger_matches_levels()
