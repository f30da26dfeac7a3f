"""The fast stock import: snapshot and delta, all-or-nothing validation, dry run, checksum, shortages."""

import io

import pytest
from django.core.management import CommandError, call_command

from inventory.imports import ERROR_CAP, stock_import_create, stock_import_run
from inventory.models import InventoryMovement, StockImport, StockLevel, StockShortage
from inventory.selectors import stock_shortages_open
from inventory.services import ReserveLine, stock_reserve
from inventory.tests.helpers import assert_ledger_matches_levels, put_stock

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True, params=["planner-joins", "index-joins"])
def merge_joins(request, monkeypatch):
    """Every import both ways the merge may join the stock table on PostgreSQL: by index lookups when the
    file is small against the stock table (the test tables are too small for that to be chosen), or as the
    planner likes."""
    monkeypatch.setattr("inventory.services.merge._merge_by_index", lambda **_: request.param == "index-joins")


def run(data: bytes | str, **kwargs) -> StockImport:
    if isinstance(data, str):
        data = data.encode()
    job = stock_import_create(fileobj=io.BytesIO(data), name="stock.csv", **kwargs)
    return stock_import_run(import_id=job.pk)


def level(product, location) -> tuple[int, int]:
    s = StockLevel.objects.filter(product=product, location=location).first()
    return (s.on_hand, s.reserved) if s else (0, 0)


def test_snapshot_sets_on_hand_keeps_reserved_and_writes_the_ledger(product, product_b, dc, store):
    put_stock(product, dc, 10)
    stock_reserve(lines=[ReserveLine(product.pk, 3, location_id=dc.pk)])
    job = run("sku,location,on_hand\nSKU-A,DC-EAST,25\nSKU-B,STORE-0001,4\nSKU-A,STORE-0001,0\n")
    assert job.status == StockImport.Status.SUCCEEDED, job.message
    assert (job.rows_total, job.rows_changed) == (3, 3)
    assert level(product, dc) == (25, 3)
    assert level(product_b, store) == (4, 0)
    assert StockLevel.objects.filter(product=product, location=store, on_hand=0).exists()
    moves = InventoryMovement.objects.filter(reference=f"import:{job.pk}")
    assert sorted(m.delta_on_hand for m in moves) == [4, 15]
    assert all(m.reason == "import" for m in moves)
    assert_ledger_matches_levels()


def test_unchanged_rows_write_no_movement(product, dc):
    put_stock(product, dc, 7)
    job = run("sku,location,on_hand\nSKU-A,DC-EAST,7\n")
    assert job.status == "succeeded" and job.rows_changed == 0
    assert not InventoryMovement.objects.filter(reference=f"import:{job.pk}").exists()


def test_delta_adds_and_a_negative_result_rejects_the_whole_file(product, product_b, dc):
    put_stock(product, dc, 5)
    job = run("sku,location,delta\nSKU-A,DC-EAST,-2\nSKU-B,DC-EAST,+6\n", mode="delta")
    assert job.status == "succeeded", job.message
    assert level(product, dc) == (3, 0) and level(product_b, dc) == (6, 0)
    job = run("sku,location,delta\nSKU-B,DC-EAST,1\nSKU-A,DC-EAST,-4\n", mode="delta")
    assert job.status == "rejected"
    assert job.errors == [{"row": 3, "column": "delta", "value": "-4", "reason": "on hand 3 would become -1"}]
    assert level(product, dc) == (3, 0) and level(product_b, dc) == (6, 0)
    assert_ledger_matches_levels()


def test_location_from_the_command_line_bom_crlf_and_quotes(product, product_b, store):
    data = b'\xef\xbb\xbf"sku","on_hand"\r\n"SKU-A",3\r\nSKU-B,"12"\r\n\r\n'
    job = run(data, location=store)
    assert job.status == "succeeded", (job.message, job.errors)
    assert level(product, store) == (3, 0) and level(product_b, store) == (12, 0)


def test_a_quoted_field_with_a_newline_is_one_row(product, dc, db):
    from inventory.models import Product

    Product.objects.create(sku="SKU\nODD", name="Odd")
    job = run('sku,location,on_hand\n"SKU\nODD",DC-EAST,2\nSKU-A,DC-EAST,1\n')
    assert job.status == "succeeded", (job.message, job.errors)
    assert job.rows_total == 2


@pytest.mark.parametrize(
    "data, expected",
    [
        ("", "The file is empty"),
        ("\n\n", "The file is empty"),
        ("sku,location,on_hand\n", "no data rows"),
        ("sku,on_hand\nSKU-A,3\n", "missing column(s) location"),
        ("sku,location,qty\nSKU-A,DC-EAST,3\n", "unknown column(s) 'qty'"),
        ("sku,location,on_hand,colour\nSKU-A,DC-EAST,3,red\n", "unknown column(s) 'colour'"),
    ],
)
def test_bad_files_are_rejected_whole(product, dc, data, expected):
    put_stock(product, dc, 1)
    job = run(data)
    assert job.status == "rejected"
    assert expected in job.message
    assert level(product, dc) == (1, 0)


def test_every_bad_row_is_reported_and_nothing_is_applied(product, product_b, dc, store):
    put_stock(product, dc, 9)
    job = run(
        "sku,location,on_hand\n"
        "SKU-A,DC-EAST,5\n"  # row 2: fine on its own
        "NOPE,DC-EAST,1\n"  # 3 unknown sku
        "SKU-B,MOON,1\n"  # 4 unknown location
        "SKU-B,DC-EAST,two\n"  # 5 not an integer
        "SKU-B,STORE-0001,-1\n"  # 6 negative
        "SKU-A,DC-EAST,6\n"  # 7 duplicate of row 2
        "SKU-A,STORE-0001,1.5\n"  # 8 not an integer
        ",DC-EAST,1\n"  # 9 missing sku
    )
    assert job.status == "rejected"
    got = [(e["row"], e["column"], e["value"], e["reason"]) for e in job.errors]
    assert got == [
        (3, "sku", "NOPE", "unknown SKU"),
        (4, "location", "MOON", "unknown location"),
        (5, "on_hand", "two", "not a whole number"),
        (6, "on_hand", "-1", "negative on_hand: must be 0 or more"),
        (7, "sku", "SKU-A", "duplicate SKU × location (first on row 2)"),
        (8, "on_hand", "1.5", "not a whole number"),
        (9, "sku", "", "missing SKU"),
    ]
    assert job.rows_rejected == 7
    assert level(product, dc) == (9, 0)
    assert not InventoryMovement.objects.filter(reference=f"import:{job.pk}").exists()


def test_wrong_encoding_names_the_row(product, dc):
    job = run("sku,location,on_hand\nSKU-A,DC-EAST,1\nSKU-\xe9,DC-EAST,2\n".encode("latin-1"))
    assert job.status == "rejected"
    assert "not UTF-8" in job.message
    assert job.errors[0]["row"] == 3
    assert level(product, dc) == (0, 0)


def test_report_is_capped_with_a_total(product, dc):
    rows = "".join(f"UNKNOWN-{i},DC-EAST,1\n" for i in range(ERROR_CAP + 50))
    job = run("sku,location,on_hand\n" + rows)
    assert job.status == "rejected"
    assert len(job.errors) == ERROR_CAP and job.rows_rejected == ERROR_CAP + 50


def test_dry_run_validates_without_applying(product, dc):
    job = run("sku,location,on_hand\nSKU-A,DC-EAST,8\n", dry_run=True)
    assert job.status == "validated"
    assert "would change stock" in job.message and job.rows_changed == 1
    assert level(product, dc) == (0, 0)
    assert not InventoryMovement.objects.exists()


def test_the_same_file_twice_is_recognised_unless_forced(product, dc):
    data = "sku,location,delta\nSKU-A,DC-EAST,4\n"
    assert run(data, mode="delta").status == "succeeded"
    second = run(data, mode="delta")
    assert second.status == "duplicate" and "already applied" in second.message
    assert level(product, dc) == (4, 0)
    assert run(data, mode="delta", force=True).status == "succeeded"
    assert level(product, dc) == (8, 0)
    assert_ledger_matches_levels()


def test_running_a_job_twice_applies_it_once(product, dc):
    job = stock_import_create(fileobj=io.BytesIO(b"sku,location,delta\nSKU-A,DC-EAST,4\n"), name="a.csv", mode="delta")
    stock_import_run(import_id=job.pk)
    again = stock_import_run(import_id=job.pk)
    assert again.status == "succeeded"
    assert level(product, dc) == (4, 0)


def test_snapshot_below_reserved_opens_a_shortage_and_a_later_one_resolves_it(product, dc, store):
    put_stock(product, dc, 10)
    stock_reserve(lines=[ReserveLine(product.pk, 6, location_id=dc.pk)])
    job = run("sku,location,on_hand\nSKU-A,DC-EAST,4\n")
    assert job.status == "succeeded" and job.shortages == 1
    [short] = stock_shortages_open()
    assert (short.product, short.location, short.on_hand, short.reserved) == (product, dc, 4, 6)
    assert short.quantity_short == 2 and short.source == f"import:{job.pk}"
    assert level(product, dc) == (4, 6)
    run("sku,location,on_hand\nSKU-A,DC-EAST,3\n")
    assert StockShortage.objects.get().on_hand == 3  # still one open shortage, refreshed
    run("sku,location,on_hand\nSKU-A,DC-EAST,7\n")
    assert not stock_shortages_open().exists()
    assert StockShortage.objects.get().resolved_at is not None


def test_command_applies_and_reports(product, dc, tmp_path, capsys):
    f = tmp_path / "s.csv"
    f.write_text("sku,location,on_hand\nSKU-A,DC-EAST,11\n")
    call_command("import_inventory", str(f), "--dry-run")
    assert level(product, dc) == (0, 0)
    call_command("import_inventory", str(f))
    assert level(product, dc) == (11, 0)
    with pytest.raises(CommandError, match="already imported"):
        call_command("import_inventory", str(f))
    call_command("import_inventory", str(f), "--force")
    bad = tmp_path / "bad.csv"
    bad.write_text("sku,on_hand\nSKU-X,1\n")
    with pytest.raises(CommandError):
        call_command("import_inventory", str(bad), "--location", "DC-EAST")
    assert "unknown SKU" in capsys.readouterr().out


def test_whole_numbers_are_read_the_same_by_the_fast_cast_and_the_exact_check(product, product_b, dc, store):
    # PostgreSQL tries a plain integer cast first and falls back to the exact check when in doubt: the
    # results (and the report) must not depend on which one ran.
    job = run("sku,location,on_hand\nSKU-A,DC-EAST, 5 \nSKU-B,DC-EAST,+3\nSKU-A,STORE-0001,007\n")
    assert job.status == "succeeded", (job.message, job.errors)
    assert level(product, dc) == (5, 0) and level(product_b, dc) == (3, 0) and level(product, store) == (7, 0)
    job = run(
        "sku,location,on_hand\n"
        "SKU-A,DC-EAST,999999999\n"  # row 2: the largest accepted
        "SKU-B,DC-EAST,1000000000\n"  # 3: fits an integer, but more than nine digits
        "SKU-A,STORE-0001,2147483648\n"  # 4: does not even fit an integer
        "SKU-B,STORE-0001,\n"  # 5: empty
    )
    assert job.status == "rejected"
    assert [(e["row"], e["value"], e["reason"]) for e in job.errors] == [
        (3, "1000000000", "not a whole number"),
        (4, "2147483648", "not a whole number"),
        (5, "", "missing on_hand"),
    ]
    assert level(product, dc) == (5, 0)
    # Only the ten-digit value (the cast takes it): still refused, with the same report.
    job = run("sku,location,on_hand\nSKU-A,DC-EAST,1\nSKU-B,DC-EAST,-1000000000\n")
    assert job.status == "rejected"
    assert [(e["row"], e["value"], e["reason"]) for e in job.errors] == [(3, "-1000000000", "not a whole number")]
    job = run("sku,location,on_hand\nSKU-A,DC-EAST,999999999\n")
    assert job.status == "succeeded" and level(product, dc) == (999_999_999, 0)
    assert_ledger_matches_levels()
