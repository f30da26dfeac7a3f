"""Deployment checks of the project (`manage.py check --deploy`)."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.compatibility, deploy=True)
def task_broker_check(app_configs, **kwargs) -> list[Warning]:
    """Production runs django-q2 on Redis: the ORM broker polls and updates a PostgreSQL table that competes
    with intake at peak (docs/scaling.md "Redis broker")."""
    if "redis" in settings.Q_CLUSTER:
        return []
    return [
        Warning(
            "django-q2 uses the ORM broker (a PostgreSQL table): set REDIS_URL in production.",
            hint="REDIS_URL=redis://host:6379/0 makes Redis the task broker and the shared cache (docs/operations.md).",
            id="dom.W001",
        )
    ]
