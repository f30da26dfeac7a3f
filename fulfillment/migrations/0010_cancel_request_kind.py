from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("fulfillment", "0009_cancel_requests"),
    ]

    operations = [
        migrations.AddField(
            model_name="cancelrequest",
            name="kind",
            field=models.CharField(
                choices=[("cancel", "Cancel"), ("reroute", "Re-route")], default="cancel", max_length=10
            ),
        ),
    ]
