"""WMS events: a key's cursor (the newest set applied there) and the deltas applied after a sequence are
read from one partial index on the applied events, instead of a cursor table rewritten for every key of
every document and a full index over every event; the events' feed key is no longer checked row by row at
commit (the feed row is locked while its events are written). Nothing to copy: every cursor was the newest
applied set of its key, which the events keep."""

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
                condition=models.Q(("outcome", "applied")),
                fields=["feed", "product", "location", "type", "sequence"],
                name="wms_event_key_applied",
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
