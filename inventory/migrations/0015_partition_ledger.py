"""The stock ledger becomes a table partitioned by month on created_at (PostgreSQL; nothing on SQLite).

The model is unchanged; the table's primary key becomes (id, created_at), as partitioning requires. Nothing
references the ledger by foreign key, so its single-column id needs no unique constraint of its own (ids
still come from one sequence). `manage.py partitions_ensure` adds months ahead, `partitions_archive` retires
old ones (common.partitions, docs/scaling.md)."""

from django.db import migrations
from django.utils import timezone

from common.partitions import table_partition_by_month, table_unpartition

TABLE = "inventory_inventorymovement"


def partition(apps, schema_editor):
    table_partition_by_month(table=TABLE, column="created_at", months_ahead=2, today=timezone.now().date())


def unpartition(apps, schema_editor):
    table_unpartition(table=TABLE)


class Migration(migrations.Migration):
    dependencies = [("inventory", "0014_inbound_allocations")]

    operations = [migrations.RunPython(partition, unpartition)]
