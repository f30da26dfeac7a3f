"""Order timeline events become a table partitioned by month on created_at (PostgreSQL; nothing on SQLite).

The model is unchanged; the table's primary key becomes (id, created_at), as partitioning requires. No
foreign key points at order events, so their single-column id needs no unique constraint of its own (ids
still come from one sequence); their own foreign keys (order, actor) stay. `manage.py partitions_ensure` adds
months ahead, `partitions_archive` retires old ones (common.partitions, docs/scaling.md)."""

from django.db import migrations
from django.utils import timezone

from common.partitions import table_partition_by_month, table_unpartition

TABLE = "orders_orderevent"


def partition(apps, schema_editor):
    table_partition_by_month(table=TABLE, column="created_at", months_ahead=2, today=timezone.now().date())


def unpartition(apps, schema_editor):
    table_unpartition(table=TABLE)


class Migration(migrations.Migration):
    dependencies = [("orders", "0012_order_line_expected_date")]

    operations = [migrations.RunPython(partition, unpartition)]
