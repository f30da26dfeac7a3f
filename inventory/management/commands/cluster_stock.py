"""`python manage.py cluster_stock [--check]`: lay the stock table out by product again (PostgreSQL)."""

import json

from django.core.management.base import BaseCommand

from inventory.maintenance import stock_layout, stock_table_cluster


class Command(BaseCommand):
    help = (
        "Rewrite the stock table in product order (PostgreSQL CLUSTER; locks the table for a few seconds) and "
        "print how many heap pages one product's rows take, before and after. --check only prints it."
    )

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="Only report the layout; change nothing.")

    def handle(self, *args, check: bool, **options):
        if check:
            layout = stock_layout()
            before, after = layout, None
        else:
            before, after = stock_table_cluster()
        if before is None:
            self.stdout.write("Nothing to do: only PostgreSQL tables are clustered (SQLite keeps rows in id order).")
            return
        out = {"before": before.as_dict()}
        if after is not None:
            out["after"] = after.as_dict()
        self.stdout.write(json.dumps(out))
