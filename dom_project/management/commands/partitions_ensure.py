"""Create the coming months' partitions of the history tables (scheduled daily; safe to run any time)."""

from django.conf import settings
from django.core.management.base import BaseCommand

from dom_project.partitions import history_partitions_ensure


class Command(BaseCommand):
    help = "Create this month's and the next months' partitions of every table partitioned by month."

    def add_arguments(self, parser):
        parser.add_argument("--months-ahead", type=int, default=settings.DOM_PARTITION_MONTHS_AHEAD)

    def handle(self, *args, months_ahead: int, **options):
        created = history_partitions_ensure(months_ahead=months_ahead)
        for name in created:
            self.stdout.write(f"created: {name}")
        self.stdout.write(f"{len(created)} partition(s) created; {months_ahead} month(s) ahead covered.")
