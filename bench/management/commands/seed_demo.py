"""Load the demo retailer (idempotent). `--scale large` is the standard benchmark world (no demo orders)."""

from django.core.management.base import BaseCommand
from django.db import transaction

from bench.demo import demo_seed
from bench.demo_orders import demo_orders_seed


class Command(BaseCommand):
    help = (
        "Create the demo retailer: locations on real US ZIPs, products, stock, channels, one user per role, and "
        "(small scale) a few dozen routed demo orders."
    )

    def add_arguments(self, parser):
        parser.add_argument("--scale", choices=["small", "large"], default="small")
        parser.add_argument("--no-orders", action="store_true", help="Skip the demo orders.")
        parser.add_argument("--quiet", action="store_true")

    def handle(self, *args, scale: str, no_orders: bool, quiet: bool, **options):
        with transaction.atomic():
            report = demo_seed(scale=scale)
        if scale == "small" and not no_orders:
            created = demo_orders_seed()
            report.append(f"Demo orders: {created} created now (intake → validation → routing).")
        if not quiet:
            for line in report:
                self.stdout.write(line)
