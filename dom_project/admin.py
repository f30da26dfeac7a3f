"""The admin's own audit trail, browsable: every add, change and delete made in the admin (and the rule
admin's publish / copy actions) is a LogEntry with who, what and when; each object's History button shows
its entries and this list shows them all. Read-only: history cannot be edited or deleted here."""

from django.contrib import admin
from django.contrib.admin.models import LogEntry

from routing.models_editor import RuleSetEvent


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


# The rule editor's own audit trail (routing.models_editor.RuleSetEvent: every draft, rule edit, publish and
# roll-back made through its services), browsable in the admin next to the admin's LogEntry history.
@admin.register(RuleSetEvent)
class RuleSetEventAdmin(_ReadOnlyAdmin):
    list_display = ["created_at", "actor", "rule_set", "version", "action", "summary", "comment"]
    list_filter = ["action", "rule_set", "actor"]
    search_fields = ["summary", "comment", "actor__username"]
    date_hierarchy = "created_at"
