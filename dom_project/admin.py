"""The admin's own audit trail, browsable: every add, change and delete made in the admin (and the rule
admin's publish / copy actions) is a LogEntry with who, what and when; each object's History button shows
its entries and this list shows them all. Read-only: history cannot be edited or deleted here."""

from django.contrib import admin, messages
from django.contrib.admin.models import LogEntry
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import TokenProxy

from dom_project.models import ApiToken
from routing.editor.models import RuleSetEvent


@admin.register(LogEntry)
class LogEntryAdmin(admin.ModelAdmin):  # read-only (the methods below)
    list_display = ["action_time", "user", "content_type", "object_repr", "action_flag", "change_message"]
    list_filter = ["action_flag", "content_type", "user"]
    search_fields = ["object_repr", "change_message", "user__username"]
    date_hierarchy = "action_time"
    readonly_fields = [f.name for f in LogEntry._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class _ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


# The rule editor's own audit trail (routing.editor.models.RuleSetEvent: every draft, rule edit, publish and
# roll-back made through its services), browsable in the admin next to the admin's LogEntry history.
@admin.register(RuleSetEvent)
class RuleSetEventAdmin(_ReadOnlyAdmin):
    list_display = ["created_at", "actor", "rule_set", "version", "action", "summary", "comment"]
    list_filter = ["action", "rule_set", "actor"]
    search_fields = ["summary", "comment", "actor__username"]
    date_hierarchy = "created_at"


# API tokens are secrets: only superusers reach them in the admin, the list shows the last four characters of
# a key at most, and a new token's key is shown once, on the page that confirms its creation.
admin.site.unregister(TokenProxy)


@admin.register(ApiToken)
class ApiTokenAdmin(TokenAdmin):
    list_display = ("key_hint", "user", "created")

    @admin.display(description="Key")
    def key_hint(self, obj) -> str:
        return f"…{obj.key[-4:]}" if obj.key else ""

    def has_module_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # a token is replaced (delete and add), never edited

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def get_deleted_objects(self, objs, request):
        """What a deletion removes, named without links (the admin would link each token by its key)."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        return [f"{obj._meta.verbose_name}: {obj}" for obj in objs], counts, perms_needed, protected

    def response_add(self, request, obj, post_url_continue=None):
        messages.warning(request, f"The key of the {obj}: {obj.key} — copy it now, it will not be shown again.")
        return super().response_add(request, obj, post_url_continue)
