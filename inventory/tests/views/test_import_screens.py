"""Upload page, progress fragment, error report, shortages and accuracy screens, with their roles."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from common import roles
from conftest import make_user
from inventory.models import StockImport, StockLevel
from inventory.services import ReserveLine, cycle_count_record, stock_reserve
from inventory.tests.helpers import put_stock

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_upload_runs_the_import_and_shows_the_result(inventory_user, product, dc, django_capture_on_commit_callbacks):
    c = client_for(inventory_user)
    f = SimpleUploadedFile("stock.csv", b"sku,location,on_hand\nSKU-A,DC-EAST,6\n", content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=True):  # tasks run inline in tests (Q sync)
        resp = c.post("/inventory/imports/", {"file": f, "mode": "snapshot"})
    job = StockImport.objects.get()
    assert resp.status_code == 302 and resp["Location"] == f"/inventory/imports/{job.pk}/"
    assert job.status == "succeeded" and job.created_by == inventory_user
    assert StockLevel.objects.get(product=product, location=dc).on_hand == 6
    page = c.get(resp["Location"])
    assert b"Applied" in page.content and b"<html" in page.content
    fragment = c.get(resp["Location"], headers={"HX-Request": "true"})
    assert b"<html" not in fragment.content and b'id="import-progress"' in fragment.content
    assert b"hx-trigger" not in fragment.content  # finished: polling stops


def test_a_running_import_is_polled(inventory_user):
    job = StockImport.objects.create(original_name="x.csv", status="running", progress=40)
    fragment = client_for(inventory_user).get(f"/inventory/imports/{job.pk}/", headers={"HX-Request": "true"})
    assert b'hx-trigger="every 1s"' in fragment.content and b'value="40"' in fragment.content


def test_rejected_upload_lists_rows_and_offers_the_report(
    inventory_user, product, dc, django_capture_on_commit_callbacks
):
    c = client_for(inventory_user)
    f = SimpleUploadedFile("bad.csv", b"sku,location,on_hand\nSKU-A,DC-EAST,x\nNOPE,DC-EAST,1\n")
    with django_capture_on_commit_callbacks(execute=True):
        resp = c.post("/inventory/imports/", {"file": f, "mode": "snapshot"})
    page = c.get(resp["Location"]).content.decode()
    assert "not a whole number" in page and "unknown SKU" in page
    job = StockImport.objects.get()
    report = c.get(f"/inventory/imports/{job.pk}/errors.csv")
    assert report["Content-Type"].startswith("text/csv")
    assert report.content.decode().splitlines() == [
        "row,column,value,reason",
        "2,on_hand,x,not a whole number",
        "3,sku,NOPE,unknown SKU",
    ]


def test_upload_page_needs_the_inventory_manager_role(ops_user, store_user, inventory_user):
    assert client_for(inventory_user).get("/inventory/imports/").status_code == 200
    assert client_for(ops_user).get("/inventory/imports/").status_code == 403
    assert client_for(store_user).get("/inventory/imports/").status_code == 403
    assert Client().get("/inventory/imports/").status_code == 302


def test_shortage_list(ops_user, product, dc):
    import io

    from inventory.imports import stock_file_apply

    put_stock(product, dc, 5)
    stock_reserve(lines=[ReserveLine(product.pk, 5, location_id=dc.pk)])
    stock_file_apply(fileobj=io.BytesIO(b"sku,location,on_hand\nSKU-A,DC-EAST,2\n"))
    page = client_for(ops_user).get("/routing/shortages/").content.decode()
    assert "SKU-A" in page and "DC-EAST" in page and ">3<" in page
    assert client_for(make_user("m", roles.MERCHANDISER)).get("/routing/shortages/").status_code == 403


def test_accuracy_page_per_location_and_network(inventory_user, product, product_b, dc, store):
    put_stock(product, dc, 10)
    cycle_count_record(product=product, location=dc, counted_quantity=10)  # exact
    cycle_count_record(product=product_b, location=dc, counted_quantity=0)  # exact (nothing there)
    cycle_count_record(product=product, location=store, counted_quantity=2)  # off by 2
    page = client_for(inventory_user).get("/inventory/accuracy/").content.decode()
    assert "66.7 %" in page and "100.0 %" in page and "0.0 %" in page
    page = client_for(inventory_user).get("/inventory/accuracy/?tolerance=2").content.decode()
    assert "100.0 %" in page and "66.7" not in page
