"""Signals inventory sends so apps above it (routing) can act without inventory importing them.

- `inbound_received(order_ids=[…], product_ids={…})`: an inbound receipt released the allocations of these
  orders (highest priority first); they should be routed now, and what still waits re-planned.
- `inbound_redated(product_ids={…})`: an inbound line's expected date moved; the backorders of these
  products are re-planned and their orders re-dated.

Both are sent after the inventory transaction has committed its rows (outside its atomic block).
"""

from django.dispatch import Signal

inbound_received = Signal()
inbound_redated = Signal()
