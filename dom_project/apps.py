from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


def _ensure_roles(sender, **kwargs) -> None:
    """After the last app's post_migrate (every app's permissions exist by then), sync the role grants."""
    with_models = [config for config in apps.get_app_configs() if config.models_module is not None]
    if sender.label != with_models[-1].label:
        return
    from django.contrib.auth.models import Group, Permission

    from common.roles import roles_install

    roles_install(group_model=Group, permission_model=Permission)


class DomProjectConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "dom_project"
    verbose_name = "DOM back-office"

    def ready(self) -> None:
        # After every migrate (and test flush) so groups and grants for newly added models always exist.
        post_migrate.connect(_ensure_roles, dispatch_uid="common.roles")
        from dom_project import checks  # noqa: F401 - registers the deploy checks
