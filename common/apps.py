"""Cross-cutting helpers every app may import: outbound-network guards, the formula-safe CSV writer, roles.

`common` imports no other app of the project."""

from django.apps import AppConfig
from django.conf import settings


class CommonConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "common"
    verbose_name = "Common"

    def ready(self) -> None:
        import common.schema  # noqa: F401 — registers the drf-spectacular extensions
        from common.audit import audit_models_register

        audit_models_register(config=getattr(settings, "AUDIT_LOG_MODELS", {}))
