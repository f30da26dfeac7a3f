"""Background jobs of the project as a whole (django-q2): the history tables' month partitions."""

from django.conf import settings

from dom_project.partitions import history_partitions_archive, history_partitions_ensure


def partitions_ensure_task() -> int:
    return len(history_partitions_ensure())


def partitions_archive_task() -> int:
    """Archives only when a retention is set (DOM_PARTITION_RETENTION_MONTHS): dropping history is opt-in."""
    months = settings.DOM_PARTITION_RETENTION_MONTHS
    return len(history_partitions_archive(older_than_months=months)) if months else 0
