"""Signal receivers of the outbound-events app (connected in WebhooksConfig.ready)."""

from django.dispatch import receiver

from inventory.signals import stock_levels_changed
from webhooks.services import stock_low_check


@receiver(stock_levels_changed, dispatch_uid="webhooks.stock_low_check")
def _stock_low_on_change(sender, *, product_ids=None, location_ids=None, lowered_ids=None, **kwargs) -> None:
    # Inside the stock write's transaction: the mark and the event commit or roll back with it.
    stock_low_check(product_ids=product_ids, location_ids=location_ids, lowered_ids=lowered_ids)
