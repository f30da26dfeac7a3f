"""B2B orders by CSV: one order per external_id group, errors per row, all or nothing."""

import pytest

from orders.csv_orders import CsvOrderErrors
from orders.models import Order, OrderLine
from orders.services import order_csv_import

pytestmark = pytest.mark.django_db

HEADER = (
    "external_id,placed_at,customer_email,ship_line1,ship_city,ship_region,ship_postal_code,sku,quantity,unit_price\n"
)


def test_rows_grouped_by_external_id_become_orders(marketplace, catalogue, ops_user):
    text = HEADER + (
        "PO-1,2026-03-02,buyer@acme.test,1 Main St,Louisville,KY,40202,SKU-A,10,5.00\n"
        "PO-1,,,,,,,SKU-B,4,7.50\n"
        "PO-2,2026-03-02T09:30:00Z,buyer@acme.test,9 Elm St,New York,NY,10001,SKU-A,1,5.00\n"
    )
    result = order_csv_import(channel=marketplace, text=text, actor=ops_user)
    assert [o.external_id for o in result.created] == ["PO-1", "PO-2"] and result.existing == []
    po1 = Order.objects.get(external_id="PO-1")
    assert [(ln.sku, ln.quantity) for ln in po1.lines.all()] == [("SKU-A", 10), ("SKU-B", 4)]
    assert str(po1.total) == "80.00" and po1.status == "validated" and po1.payment_status == "authorized"
    assert po1.events.get(type="received").data["source"] == "csv"
    # Uploading the same file again duplicates nothing.
    again = order_csv_import(channel=marketplace, text=text, actor=ops_user)
    assert again.created == [] and len(again.existing) == 2
    assert Order.objects.count() == 2 and OrderLine.objects.count() == 3


def test_any_bad_row_stores_nothing_and_every_error_names_row_and_field(marketplace, catalogue, ops_user):
    text = HEADER + (
        "PO-1,2026-03-02,buyer@acme.test,1 Main St,Louisville,KY,40202,SKU-A,10,5.00\n"
        "PO-2,2026-03-02,buyer@acme.test,1 Main St,Louisville,KY,40202,SKU-NOPE,-1,abc\n"
        "PO-2,2026-03-05,,,,,,SKU-B,1,1\n"
        ",2026-03-02,,,,,,SKU-A,1,1\n"
    )
    with pytest.raises(CsvOrderErrors) as exc:
        order_csv_import(channel=marketplace, text=text, actor=ops_user)
    found = {(e.row, e.field) for e in exc.value.errors}
    assert found == {(3, "sku"), (3, "quantity"), (3, "unit_price"), (4, "placed_at"), (5, "external_id")}
    assert "Unknown or inactive SKU 'SKU-NOPE'" in str(exc.value)
    assert "Differs from row 3" in str(exc.value)
    assert Order.objects.count() == 0


def test_missing_columns_and_empty_files(marketplace, ops_user):
    with pytest.raises(CsvOrderErrors, match="Row 1, quantity: Missing column"):
        order_csv_import(channel=marketplace, text="external_id,sku\nA,B\n", actor=ops_user)
    with pytest.raises(CsvOrderErrors, match="no order rows"):
        order_csv_import(channel=marketplace, text=HEADER, actor=ops_user)
    with pytest.raises(CsvOrderErrors, match="Unknown column"):
        order_csv_import(channel=marketplace, text="external_id,sku,quantity,colour\n", actor=ops_user)


def test_csv_api_upload(ops_api, marketplace, catalogue):
    from django.core.files.uploadedfile import SimpleUploadedFile

    good = HEADER + "PO-9,2026-03-02,b@acme.test,1 Main St,Louisville,KY,40202,SKU-A,2,5.00\n"
    resp = ops_api.post(
        "/api/v1/orders/import/?channel=mkt", {"file": SimpleUploadedFile("po.csv", good.encode())}, format="multipart"
    )
    assert resp.status_code == 201 and len(resp.json()["created"]) == 1
    bad = HEADER + "PO-10,2026-03-02,b@acme.test,1 Main St,Louisville,KY,40202,SKU-X,2,5.00\n"
    resp = ops_api.post(
        "/api/v1/orders/import/?channel=mkt", {"file": SimpleUploadedFile("po.csv", bad.encode())}, format="multipart"
    )
    assert resp.status_code == 400
    assert resp.json()["errors"] == [{"row": 2, "field": "sku", "message": "Unknown or inactive SKU 'SKU-X'."}]
    assert Order.objects.count() == 1
