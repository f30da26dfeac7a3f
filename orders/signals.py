"""Signals the orders app sends. Receivers run inside the sender's transaction."""

from django.dispatch import Signal

# Sent by orders.services.order_cancel after the order is cancelled and its reservations released, as
# order_cancelled.send(sender=Order, order=order, actor=actor); fulfillment cancels its open work.
order_cancelled = Signal()
