"""Retire old months of the history tables: detach, dump to gzipped CSV, drop."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from dom_project.partitions import history_partitions_archive


class Command(BaseCommand):
    help = (
        "Detach every monthly partition older than N months, write it to <dump-dir>/<partition>.csv.gz and drop "
        "it. The stock ledger's net movements over those months are carried forward, so it still sums to stock."
    )

    def add_arguments(self, parser):
        parser.add_argument("--older-than-months", type=int, required=True)
        parser.add_argument("--dump-dir", type=Path, default=Path(settings.DOM_PARTITION_ARCHIVE_DIR))

    def handle(self, *args, older_than_months: int, dump_dir: Path, **options):
        try:
            written = history_partitions_archive(older_than_months=older_than_months, dump_dir=dump_dir)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        for path in written:
            self.stdout.write(f"archived: {path}")
        self.stdout.write(f"{len(written)} partition(s) archived.")
