from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_roles(sender, **kwargs) -> None:
    from django.contrib.auth.models import Group, Permission

    from common.roles import roles_install

    roles_install(group_model=Group, permission_model=Permission)


class DomProjectConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "dom_project"
    verbose_name = "DOM back-office"

    def ready(self) -> None:
        # After every migrate (and test flush) so groups and grants for newly added models always exist.
        post_migrate.connect(_ensure_roles, sender=self)
