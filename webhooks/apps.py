from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "webhooks"
    verbose_name = "Outbound events (webhooks)"

    def ready(self) -> None:
        from webhooks import receivers  # noqa: F401 — connects the stock_levels_changed receiver
