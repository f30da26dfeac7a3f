from datetime import timedelta

import pytest
from django.utils import timezone

from inventory.imports import FileRejected
from inventory.inbound_import import inbound_csv_import
from inventory.models import InboundLine, InboundShipment

pytestmark = pytest.mark.django_db

D = (timezone.localdate() + timedelta(days=7)).isoformat()
PAST = (timezone.localdate() - timedelta(days=1)).isoformat()
HEADER = "number,supplier,location,sku,quantity,expected_date,kind\n"


def test_a_good_file_creates_every_shipment_and_line(product, product_b, dc, store):
    result = inbound_csv_import(
        text="\ufeff"
        + HEADER
        + f"PO-1,Acme,DC-EAST,SKU-A,10,{D},po\nPO-1,Acme,DC-EAST,SKU-B,5,{D},po\n"
        + f"\nASN-9,Zeta,STORE-0001,SKU-A,2,{D},asn\n"
    )
    assert sorted(result.shipments) == ["ASN-9", "PO-1"] and result.lines == 3
    po = InboundShipment.objects.get(number="PO-1")
    assert (po.supplier, po.location, po.kind, po.lines.count()) == ("Acme", dc, "po", 2)
    assert InboundShipment.objects.get(number="ASN-9").kind == "asn"


def test_a_file_with_bad_rows_is_refused_whole_with_every_row_named(product, product_b, dc, store):
    InboundShipment.objects.create(number="PO-OLD", supplier="x", location=dc)
    text = HEADER + "\n".join(
        [
            f"PO-1,Acme,DC-EAST,SKU-A,10,{D},",  # row 2: good
            f"PO-1,Other,DC-EAST,SKU-A,3,{D},",  # row 3: supplier differs, SKU repeated
            f"PO-2,Acme,NOWHERE,SKU-ZZ,-4,{PAST},fax",  # row 4: location, sku, quantity, date, kind
            "PO-OLD,Acme,DC-EAST,SKU-B,1,2026-02-30,",  # row 5: number exists, not a date
            "PO-3,,DC-EAST,SKU-B,1.5,tomorrow,,extra",  # row 6: supplier, quantity, date, extra cell
        ]
    )
    with pytest.raises(FileRejected) as exc:
        inbound_csv_import(text=text)
    got = {(e.row, e.column) for e in exc.value.errors}
    assert got == {
        (3, "supplier"),
        (3, "sku"),
        (4, "location"),
        (4, "sku"),
        (4, "quantity"),
        (4, "expected_date"),
        (4, "kind"),
        (5, "number"),
        (5, "expected_date"),
        (6, ""),
        (6, "supplier"),
        (6, "quantity"),
        (6, "expected_date"),
    }
    assert exc.value.total == 13 and "nothing was imported" in exc.value.message
    by = {(e.row, e.column): e for e in exc.value.errors}
    assert by[(4, "location")].reason == "Unknown location 'NOWHERE'"
    assert by[(4, "sku")].value == "SKU-ZZ" and by[(4, "sku")].reason == "unknown SKU"
    assert by[(3, "sku")].reason == "SKU repeated in the same number (first on row 2)"
    assert InboundShipment.objects.count() == 1 and not InboundLine.objects.exists()


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty"),
        ("number,supplier\nPO-1,Acme\n", "missing column(s): location, sku, quantity, expected_date"),
        (HEADER.replace("kind", "colour"), "unknown column(s): colour"),
        (HEADER, "no data rows"),
    ],
)
def test_unusable_files_are_refused(db, text, message):
    with pytest.raises(FileRejected) as exc:
        inbound_csv_import(text=text)
    assert message in exc.value.message
