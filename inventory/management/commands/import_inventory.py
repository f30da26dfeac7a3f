"""`python manage.py import_inventory FILE [--mode snapshot|delta] [--location CODE] [--dry-run] [--force]`."""

from django.core.management.base import BaseCommand, CommandError

from inventory.imports import stock_import_create, stock_import_run
from inventory.models import ImportMode, Location, StockImport


class Command(BaseCommand):
    help = "Load a stock CSV (sku,location,on_hand or sku,location,delta) through the fast path, all or nothing."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--mode", choices=[m.value for m in ImportMode], default=ImportMode.SNAPSHOT)
        parser.add_argument("--location", help="Location code for files without a location column.")
        parser.add_argument("--dry-run", action="store_true", help="Validate and report; apply nothing.")
        parser.add_argument("--force", action="store_true", help="Apply even if this file was applied before.")

    def handle(self, *args, file: str, mode: str, location: str | None, dry_run: bool, force: bool, **options):
        loc = None
        if location:
            loc = Location.objects.filter(code=location).first()
            if loc is None:
                raise CommandError(f"Unknown location {location!r}.")
        try:
            fileobj = open(file, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}.") from exc
        with fileobj:
            job = stock_import_create(name=file, mode=mode, location=loc, dry_run=dry_run, force=force)
            job = stock_import_run(import_id=job.pk, fileobj=fileobj)
        self.stdout.write(f"Import {job.pk}: {job.get_status_display()}. {job.message}")
        for e in job.errors:
            self.stdout.write(f"  row {e['row']}, {e['column'] or '-'}: {e['reason']} ({e['value']!r})")
        if job.rows_rejected > len(job.errors):
            self.stdout.write(f"  … and {job.rows_rejected - len(job.errors)} more.")
        if job.status in (StockImport.Status.REJECTED, StockImport.Status.FAILED, StockImport.Status.DUPLICATE):
            raise CommandError(f"Import {job.pk} {job.get_status_display().lower()}: nothing was applied.")
