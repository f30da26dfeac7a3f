"""Month partitions of the history tables (stock ledger, order events): the commands' and tasks' logic.

The SQL is common.partitions; this module adds the project's settings and the ledger's carry-forward, so the
ledger still sums to the stock levels after its oldest months are archived."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from common.partitions import month_add, partitions_archive, partitions_ensure
from inventory.models import InventoryMovement
from inventory.services import ledger_carry_forward


def history_partitions_ensure(*, months_ahead: int | None = None, today: date | None = None) -> list[str]:
    """Create this month's and the next `months_ahead` months' partitions of every partitioned table."""
    ahead = settings.DOM_PARTITION_MONTHS_AHEAD if months_ahead is None else months_ahead
    return partitions_ensure(months_ahead=ahead, today=today or timezone.now().date())


def history_partitions_archive(
    *, older_than_months: int, dump_dir: Path | None = None, today: date | None = None
) -> list[Path]:
    """Detach, dump (gzipped CSV) and drop the monthly partitions older than `older_than_months` months; the
    ledger's net movements over them are carried forward first."""
    today = today or timezone.now().date()
    kept_from = month_add(month=today, months=-older_than_months)
    at = datetime(kept_from.year, kept_from.month, 1, tzinfo=UTC)

    def carry_forward(table: str, partitions: list[str]) -> None:
        if table == InventoryMovement._meta.db_table:
            ledger_carry_forward(partitions=partitions, at=at)

    return partitions_archive(
        older_than_months=older_than_months,
        today=today,
        dump_dir=dump_dir or Path(settings.DOM_PARTITION_ARCHIVE_DIR),
        before_detach=carry_forward,
    )
