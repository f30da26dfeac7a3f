"""`python manage.py route_pending [--batch N] [--limit N]`: route every waiting order, most urgent first."""

import time

from django.core.management.base import BaseCommand

from routing.services import orders_route_pending


class Command(BaseCommand):
    help = "Route all created/validated orders by priority, in set-based batches."

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, default=500, help="Orders per transaction (default 500).")
        parser.add_argument("--limit", type=int, default=None, help="Stop after this many orders.")

    def handle(self, *args, batch: int, limit: int | None, **options):
        t = time.perf_counter()
        r = orders_route_pending(batch=batch, limit=limit)
        s = time.perf_counter() - t
        self.stdout.write(
            f"{r.orders} orders in {r.batches} batch(es), {s:.1f}s: {r.routed} routed, {r.partial} partly routed, "
            f"{r.backordered} backordered"
        )
