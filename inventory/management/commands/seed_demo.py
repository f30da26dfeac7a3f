"""Load the demo retailer (idempotent). `--scale large` is the standard benchmark world."""

from django.core.management.base import BaseCommand
from django.db import transaction

from inventory.demo import demo_seed


class Command(BaseCommand):
    help = "Create the demo retailer: locations on real US ZIPs, products, stock, channels and one user per role."

    def add_arguments(self, parser):
        parser.add_argument("--scale", choices=["small", "large"], default="small")
        parser.add_argument("--quiet", action="store_true")

    def handle(self, *args, scale: str, quiet: bool, **options):
        with transaction.atomic():
            report = demo_seed(scale=scale)
        if quiet:
            return
        for line in report:
            self.stdout.write(line)
