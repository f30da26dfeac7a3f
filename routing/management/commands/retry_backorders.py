"""`python manage.py retry_backorders`: place backordered units where stock has arrived."""

from django.core.management.base import BaseCommand

from routing.services import backorders_retry


class Command(BaseCommand):
    help = "Re-route the open units of backordered orders (stock may have arrived)."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=500)

    def handle(self, *args, limit: int, **options):
        self.stdout.write(f"{backorders_retry(limit=limit)} order(s) moved forward")
