"""Printable documents (ReportLab): commercial invoice for international shipments, packing slip."""

from __future__ import annotations

import io
from decimal import Decimal

from django.core.exceptions import ValidationError
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from fulfillment.models import Shipment


def _address(addr: dict) -> str:
    parts = [addr.get(k, "") for k in ("name", "line1", "line2", "city", "region", "postal_code", "country")]
    return "<br/>".join(str(p) for p in parts if p)


def _table(rows: list[list], widths: list[float]) -> Table:
    t = Table(rows, colWidths=widths, repeatRows=1)
    t.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
                ("FONTSIZE", (0, 0), (-1, -1), 8),
                ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return t


def commercial_invoice_pdf(*, shipment: Shipment) -> bytes:
    """A commercial invoice for customs: shipper, consignee, and per item HS code, origin and value."""
    if not shipment.customs_items:
        raise ValidationError(f"Shipment {shipment.pk} is domestic; it needs no commercial invoice.")
    fo = shipment.fulfillment_order
    order, loc = fo.order, fo.location
    styles = getSampleStyleSheet()
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, title=f"Commercial invoice {order.number}", leftMargin=15 * mm)
    total = sum((Decimal(i["value"]) for i in shipment.customs_items), Decimal("0"))
    story = [
        Paragraph("COMMERCIAL INVOICE", styles["Title"]),
        Paragraph(
            f"Invoice {order.number}-{shipment.pk} · Order {order.number} · Shipped {shipment.shipped_at:%Y-%m-%d}"
            if shipment.shipped_at
            else f"Invoice {order.number}-{shipment.pk}",
            styles["Normal"],
        ),
        Spacer(1, 6 * mm),
        _table(
            [
                ["Shipper / exporter", "Consignee"],
                [
                    Paragraph(
                        f"{loc.name}<br/>{loc.address_line1}<br/>"
                        f"{loc.city} {loc.region} {loc.postal_code}<br/>{loc.country}",
                        styles["Normal"],
                    ),
                    Paragraph(_address(order.shipping_address or {}), styles["Normal"]),
                ],
            ],
            [90 * mm, 90 * mm],
        ),
        Spacer(1, 4 * mm),
        Paragraph(
            f"Carrier: {shipment.carrier} {shipment.service} · Tracking: {shipment.tracking_number or '—'} · "
            f"Gross weight: {shipment.weight_grams / 1000:.2f} kg · Currency: {shipment.currency}",
            styles["Normal"],
        ),
        Spacer(1, 4 * mm),
        _table(
            [["SKU", "Description", "HS code", "Origin", "Qty", "Unit value", "Value"]]
            + [
                [
                    i["sku"],
                    Paragraph(i["description"], styles["Normal"]),
                    i["hs_code"],
                    i["origin"],
                    i["quantity"],
                    i["unit_value"],
                    i["value"],
                ]
                for i in shipment.customs_items
            ]
            + [["", "", "", "", "", "Total", f"{total:.2f}"]],
            [25 * mm, 55 * mm, 22 * mm, 15 * mm, 12 * mm, 22 * mm, 22 * mm],
        ),
        Spacer(1, 6 * mm),
        Paragraph(
            "Reason for export: sale. I declare that the information above is true and correct.", styles["Normal"]
        ),
    ]
    doc.build(story)
    return buf.getvalue()


def packing_slip_pdf(*, shipment: Shipment) -> bytes:
    """A packing slip for the box: order, ship-to address and the lines in this package."""
    fo = shipment.fulfillment_order
    styles = getSampleStyleSheet()
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, title=f"Packing slip {fo.order.number}")
    rows = [["SKU", "Item", "Quantity"]] + [
        [ln.order_line.sku, ln.order_line.product.name if ln.order_line.product else "", ln.quantity_picked]
        for ln in fo.lines.select_related("order_line__product")
        if ln.quantity_picked
    ]
    doc.build(
        [
            Paragraph(f"Packing slip — order {fo.order.number}", styles["Title"]),
            Paragraph(_address(fo.order.shipping_address or {}), styles["Normal"]),
            Spacer(1, 6 * mm),
            _table(rows, [40 * mm, 100 * mm, 25 * mm]),
        ]
    )
    return buf.getvalue()
