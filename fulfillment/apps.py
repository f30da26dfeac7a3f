from importlib.util import find_spec

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class FulfillmentConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "fulfillment"

    def ready(self) -> None:
        from fulfillment import receivers

        post_migrate.connect(receivers.rejection_reasons_install, sender=self)
        # orders.signals comes with the orders work; connect as soon as it exists.
        if find_spec("orders.signals") is not None:
            from orders.signals import order_cancelled

            order_cancelled.connect(receivers.on_order_cancelled, dispatch_uid="fulfillment.on_order_cancelled")
