"""Signal receivers: thin, they call services."""

DEFAULT_REASONS = [
    ("cant_find", "Can't find it now", "none", 5),
    ("not_in_stock", "We have none", "zero", 10),
    ("mismatch", "Stock count mismatch", "lower", 20),
    ("damaged", "Damaged", "damaged", 30),
    ("avoid_split", "Reject to avoid a split shipment", "none", 40),
    ("location_rejected", "Rejected by the warehouse or 3PL", "none", 50),
]


def on_order_cancelled(sender, order, actor=None, **kwargs) -> None:
    """orders.signals.order_cancelled: stop the order's open fulfilment orders."""
    from fulfillment.services import fulfillment_orders_cancel_for_order

    fulfillment_orders_cancel_for_order(order_id=order.pk, actor=actor)


def rejection_reasons_install(sender, **kwargs) -> None:
    """Re-create the default rejection reasons after migrate/flush (tests flush between transactional
    tests); existing rows, edited by an admin, are left as they are."""
    from fulfillment.models import RejectionReason

    for code, label, effect, sort in DEFAULT_REASONS:
        RejectionReason.objects.get_or_create(
            code=code, defaults={"label": label, "stock_effect": effect, "sort_order": sort}
        )
