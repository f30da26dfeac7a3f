"""WMS events: a key's cursor (the newest set applied there) is read from a partial index on the applied
sets, and the deltas applied after a late set from an index on (feed, sequence), which grows at its right
edge; they replace a cursor table rewritten for every key of every document and an index over every event
by key. The events' feed key is no longer checked row by row at commit (the feed row is locked while its
events are written). Nothing to copy: every cursor was the newest applied set of its key, which the events
keep."""

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
            index=models.Index(fields=["feed", "sequence"], name="wms_event_feed_seq"),
        ),
        migrations.AddIndex(
            model_name="wmsevent",
            index=models.Index(
                condition=models.Q(("outcome", "applied"), ("type", "set")),
                fields=["feed", "product", "location", "sequence"],
                name="wms_event_key_applied_set",
            ),
        ),
        migrations.RemoveIndex(
            model_name="wmsevent",
            name="wms_event_key_seq",
        ),
        migrations.DeleteModel(
            name="WmsStockCursor",
        ),
    ]
