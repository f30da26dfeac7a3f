"""Admin CSV import (django-import-export): preview then confirm, all-or-nothing, ledger, permission."""

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from common import roles
from conftest import make_user
from inventory.models import InventoryMovement, Product, StockLevel
from inventory.selectors import stock_shortages_open
from inventory.services import ReserveLine, stock_reserve
from inventory.tests.helpers import assert_ledger_matches_levels, put_stock

pytestmark = pytest.mark.django_db

URL = "/admin/inventory/stocklevel/"


@pytest.fixture
def staff_inventory(db) -> User:
    user = make_user("inv-staff", roles.INVENTORY_MANAGER)
    user.is_staff = True
    user.save()
    return user


def client_for(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def preview(c: Client, data: bytes, url: str = URL):
    return c.post(
        url + "import/",
        {"import_file": SimpleUploadedFile("s.csv", data, content_type="text/csv"), "format": "0", "resource": "0"},
    )


def test_preview_then_confirm_writes_the_ledger(staff_inventory, product, product_b, dc, store):
    put_stock(product, dc, 10)
    stock_reserve(lines=[ReserveLine(product.pk, 4, location_id=dc.pk)])
    c = client_for(staff_inventory)
    resp = preview(c, b"sku,location,on_hand\nSKU-A,DC-EAST,2\nSKU-B,STORE-0001,7\n")
    assert resp.status_code == 200
    confirm = resp.context["confirm_form"]
    assert confirm is not None, resp.content.decode()[:3000]
    # The preview changed nothing.
    assert StockLevel.objects.get(product=product, location=dc).on_hand == 10
    assert not StockLevel.objects.filter(product=product_b).exists()
    done = c.post(URL + "process_import/", confirm.initial)
    assert done.status_code == 302
    assert StockLevel.objects.get(product=product, location=dc).on_hand == 2
    assert StockLevel.objects.get(product=product, location=dc).reserved == 4
    assert StockLevel.objects.get(product=product_b, location=store).on_hand == 7
    moves = InventoryMovement.objects.filter(reason="import", reference="admin import")
    assert sorted(m.delta_on_hand for m in moves) == [-8, 7]
    assert all(m.actor == staff_inventory for m in moves)
    assert [s.product for s in stock_shortages_open()] == [product]
    assert_ledger_matches_levels()


def test_the_preview_shows_each_change_and_skips_unchanged_rows(staff_inventory, product, product_b, dc, store):
    from inventory.resources import StockLevelResource

    put_stock(product, dc, 10)
    put_stock(product_b, dc, 3)
    data = b"sku,location,on_hand\nSKU-A,DC-EAST,12\nSKU-B,DC-EAST,3\nSKU-B,STORE-0001,5\n"
    resp = preview(client_for(staff_inventory), data)
    page = resp.content.decode()
    assert "<del>10</del><ins>12</ins>" in page  # before struck, after shown
    result = resp.context["result"]
    assert [r.import_type for r in result.rows] == ["update", "skip", "new"]
    assert [str(cell) for cell in result.rows[2].diff[:3]] == [
        "<ins>SKU-B</ins>",
        "<ins>STORE-0001</ins>",
        "<ins>5</ins>",
    ]
    # Values are escaped in the preview's HTML.
    import tablib

    Product.objects.create(sku="X<b>", name="odd")
    odd = tablib.Dataset(["X<b>", "DC-EAST", "1"], headers=["sku", "location", "on_hand"])
    [row] = StockLevelResource().import_data(odd, dry_run=True, raise_errors=False).rows
    assert str(row.diff[0]) == "<ins>X&lt;b&gt;</ins>"


def test_bad_rows_are_listed_and_nothing_can_be_confirmed(staff_inventory, product, product_b, dc, store):
    put_stock(product, dc, 10)
    c = client_for(staff_inventory)
    resp = preview(
        c,
        b"sku,location,on_hand\nSKU-A,DC-EAST,3\nNOPE,DC-EAST,1\nSKU-B,MOON,1\nSKU-B,DC-EAST,-2\n"
        b"SKU-B,STORE-0001,1.5\nSKU-A,DC-EAST,4\n",
    )
    html = resp.content.decode()
    assert resp.context.get("confirm_form") is None
    for text in (
        "unknown SKU &#x27;NOPE&#x27;",
        "unknown location &#x27;MOON&#x27;",
        "negative on_hand",
        "not a whole number",
        "duplicate SKU × location (first on row 1)",
    ):
        assert text in html, text
    assert StockLevel.objects.get(product=product, location=dc).on_hand == 10
    assert not InventoryMovement.objects.filter(reason="import").exists()


def test_import_needs_its_own_permission(product, dc):
    ops = make_user("ops-staff", roles.OPERATIONS)  # may view inventory, may not import it
    ops.is_staff = True
    ops.save()
    c = client_for(ops)
    assert c.get(URL + "import/").status_code == 403
    assert preview(c, b"sku,location,on_hand\nSKU-A,DC-EAST,3\n").status_code == 403
    assert not StockLevel.objects.exists()


def test_export_by_natural_keys(staff_inventory, product, dc):
    put_stock(product, dc, 3)
    from inventory.resources import StockLevelResource

    data = StockLevelResource().export()
    assert data.csv.splitlines() == ["sku,location,on_hand,reserved", "SKU-A,DC-EAST,3,0"]


def test_products_import_by_sku(staff_inventory, product):
    c = client_for(staff_inventory)
    resp = preview(
        c,
        b"sku,name,handling_class,weight_grams,returnable,return_window_days,hs_code,country_of_origin,"
        b"low_stock_threshold,is_active\nSKU-A,Renamed,ambient,400,1,30,,,,1\nSKU-N,New,chilled,100,1,30,,,,1\n",
        url="/admin/inventory/product/",
    )
    confirm = resp.context["confirm_form"]
    assert confirm is not None, resp.content.decode()[:3000]
    c.post("/admin/inventory/product/process_import/", confirm.initial)
    assert Product.objects.get(sku="SKU-A").name == "Renamed"
    assert Product.objects.get(sku="SKU-N").handling_class == "chilled"


@pytest.mark.parametrize("by_index", [False, True], ids=["planner-joins", "index-joins"])
def test_large_admin_batches_merge_set_based_through_the_ledger(db, dc, store, by_index, monkeypatch):
    from inventory.services import SNAPSHOT_SET_BASED_ROWS, stock_snapshot_apply

    # Both ways the merge may join the stock table on PostgreSQL (see stock_merge_staged).
    monkeypatch.setattr("inventory.services.merge._merge_by_index", lambda **_: by_index)
    products = Product.objects.bulk_create([Product(sku=f"BULK-{i:04d}", name="b") for i in range(400)])
    levels = [(p.pk, loc.pk, i % 9) for i, p in enumerate(products) for loc in (dc, store)]
    assert len(levels) > SNAPSHOT_SET_BASED_ROWS
    stock_snapshot_apply(levels=levels, reference="admin import")
    assert StockLevel.objects.count() == 800
    assert InventoryMovement.objects.filter(reference="admin import").count() == sum(1 for *_, q in levels if q)
    # Again with every third level changed: updates in place, one movement each.
    again = [(p, loc, q + 1 if i % 3 == 0 else q) for i, (p, loc, q) in enumerate(levels)]
    stock_snapshot_apply(levels=again, reference="admin import 2")
    assert StockLevel.objects.count() == 800
    assert InventoryMovement.objects.filter(reference="admin import 2").count() == len(range(0, len(levels), 3))
    assert_ledger_matches_levels()


def test_cycle_counts_import_records_the_system_quantity(staff_inventory, product, dc):
    import tablib

    from inventory.models import CycleCount
    from inventory.resources import CycleCountResource

    put_stock(product, dc, 10)
    data = tablib.Dataset(headers=["sku", "location", "counted_quantity", "counted_at"])
    data.append(["SKU-A", "DC-EAST", 8, "2026-11-20 10:00"])
    result = CycleCountResource().import_data(data, dry_run=False, use_transactions=True, user=staff_inventory)
    assert not result.has_errors() and not result.has_validation_errors(), (
        [e.error for row in result.row_errors() for e in row[1]] + [e.error for e in result.base_errors],
        result.invalid_rows,
    )
    count = CycleCount.objects.get()
    assert (count.counted_quantity, count.system_quantity, count.counted_by) == (8, 10, staff_inventory)
    assert StockLevel.objects.get(product=product, location=dc).on_hand == 8
    assert_ledger_matches_levels()


def test_feed_runs_needing_attention_are_filtered_in_the_admin(db):
    from inventory.models import FeedRun, WmsFeed

    admin_user = User.objects.create_superuser("root", "root@example.com", "pw")
    feed = WmsFeed.objects.create(name="f", format="json_events", transport="http_push")
    ok = FeedRun.objects.create(feed=feed, status="succeeded", source="clean", report={"gaps": []})
    gap = FeedRun.objects.create(feed=feed, status="succeeded", source="gappy", report={"gaps": [[2, 3]]})
    bad = FeedRun.objects.create(feed=feed, status="rejected", source="broken")
    c = client_for(admin_user)
    page = c.get("/admin/inventory/feedrun/?problems=yes").content.decode()
    assert "gappy" in page and "broken" in page and ">clean<" not in page
    page = c.get("/admin/inventory/feedrun/?problems=no").content.decode()
    assert "clean" in page and "gappy" not in page
    assert {ok.pk, gap.pk, bad.pk}


def test_the_garbage_collector_is_back_on_after_an_import(db, product, dc):
    import gc

    import tablib

    from inventory.resources import StockLevelResource

    rows = tablib.Dataset(["SKU-A", "DC-EAST", "3"], headers=["sku", "location", "on_hand"])
    StockLevelResource().import_data(rows, dry_run=False, raise_errors=False)
    assert gc.isenabled()
    gc.disable()  # an import never turns it on behind the caller's back either
    try:
        StockLevelResource().import_data(rows, dry_run=True, raise_errors=False)
        assert not gc.isenabled()
    finally:
        gc.enable()
