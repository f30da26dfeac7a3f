"""WMS events: the per-key cursor (newest applied set) is read from a partial index on the events instead
of a table rewritten for every key of every document; the events' feed key is no longer checked row by row
at commit (the feed row is locked while its events are written). Nothing to copy: every cursor was the
newest applied set of its key, which the events keep."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0005_feed_event_indexes"),
    ]

    operations = [
        migrations.AlterField(
            model_name="wmsevent",
            name="feed",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="events",
                to="inventory.wmsfeed",
            ),
        ),
        migrations.AddIndex(
            model_name="wmsevent",
            index=models.Index(
                condition=models.Q(("outcome", "applied"), ("type", "set")),
                fields=["feed", "product", "location", "sequence"],
                name="wms_event_key_applied_set",
            ),
        ),
        migrations.DeleteModel(
            name="WmsStockCursor",
        ),
    ]
