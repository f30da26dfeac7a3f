"""Endpoints whose token variable is outside the allow-list (DOM_ENDPOINT_SECRET_PREFIX) fail closed: the name
is blanked and the endpoint paused (its messages wait in the outbox), so nothing is sent without its token.
An admin sets an allowed variable name and resumes it."""

import re

from django.conf import settings
from django.db import migrations


def forwards(apps, schema_editor):
    Endpoint = apps.get_model("fulfillment", "Endpoint")
    prefix = getattr(settings, "DOM_ENDPOINT_SECRET_PREFIX", "DOM_ENDPOINT_") or "DOM_ENDPOINT_"
    allowed = re.compile(re.escape(prefix) + r"[A-Z0-9_]+")
    for endpoint in Endpoint.objects.exclude(token_env=""):
        if allowed.fullmatch(endpoint.token_env):
            continue
        endpoint.token_env = ""
        endpoint.is_active = False
        endpoint.save(update_fields=["token_env", "is_active"])


class Migration(migrations.Migration):
    dependencies = [("fulfillment", "0005_endpoint_config_guards")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
