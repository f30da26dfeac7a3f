"""Feeds whose secret variable is outside the allow-list (DOM_FEED_SECRET_PREFIX) fail closed: the name is
blanked (a push is then refused as having no secret) and a pull feed that had one is paused, so it does not
pull without its credentials. An admin sets an allowed variable name and resumes it."""

import re

from django.conf import settings
from django.db import migrations


def forwards(apps, schema_editor):
    WmsFeed = apps.get_model("inventory", "WmsFeed")
    prefix = getattr(settings, "DOM_FEED_SECRET_PREFIX", "DOM_FEED_") or "DOM_FEED_"
    allowed = re.compile(re.escape(prefix) + r"[A-Z0-9_]+")
    for feed in WmsFeed.objects.exclude(secret_env=""):
        if allowed.fullmatch(feed.secret_env):
            continue
        feed.secret_env = ""
        if feed.transport == "http_pull":
            feed.is_active = False
        feed.save(update_fields=["secret_env", "is_active"])


class Migration(migrations.Migration):
    dependencies = [("inventory", "0008_wmsfeed_config_guards")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
