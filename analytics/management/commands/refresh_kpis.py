"""`python manage.py refresh_kpis [--days N | --from DATE --to DATE]`: rebuild the KPI rollup (e.g. after an
import of history); the schedules keep it fresh afterwards."""

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from analytics.services import kpi_rollup_refresh, kpi_rollup_refresh_recent


class Command(BaseCommand):
    help = "Recompute the KPI rollup for the last N days or a date range."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=60)
        parser.add_argument("--from", dest="first", default=None, help="First day, YYYY-MM-DD.")
        parser.add_argument("--to", dest="last", default=None, help="Last day, YYYY-MM-DD.")

    def handle(self, *args, days: int, first: str | None, last: str | None, **options):
        try:
            if first or last:
                if not (first and last):
                    raise CommandError("Give both --from and --to.")
                state = kpi_rollup_refresh(first=date.fromisoformat(first), last=date.fromisoformat(last))
            else:
                state = kpi_rollup_refresh_recent(days=days)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{state.rows} rollup rows for {state.first_day}..{state.last_day} in {state.seconds}s")
