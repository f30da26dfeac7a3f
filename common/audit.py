"""Who changed what: the audit log of master data and settings (django-auditlog).

Every model named in `settings.AUDIT_LOG_MODELS` is registered with django-auditlog, so each create, change
and delete through the admin, the API, a screen or a service is kept with its old and new values, the user
and the address it came from. Secrets are never recorded: a field whose name says it holds one (secret,
token, password, key) is masked, so the log shows that it changed but not its value. Hot tables (stock,
reservations, the ledger, orders) are not master data and are not registered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from auditlog.middleware import AuditlogMiddleware
from auditlog.registry import auditlog
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.utils.module_loading import import_string

SECRET_FIELD = re.compile(r"secret|token|password|passwd|api_?key|private_?key|credential", re.IGNORECASE)
MASK = "********"


def audit_value_mask(value: str) -> str:
    """What the log keeps of a secret field's value: that it is set, never the value (AUDITLOG_MASK_CALLABLE)."""
    return MASK if value not in ("", "None") else ""


def audit_secret_fields(*, model) -> list[str]:
    """The fields of `model` whose names say they hold a secret (masked in the log)."""
    return [f.name for f in model._meta.get_fields() if getattr(f, "concrete", False) and SECRET_FIELD.search(f.name)]


def audit_models_register(*, config: dict[str, dict[str, Any]]) -> list[type]:
    """Register each model of `config` ("app_label.Model" -> {"exclude": [...], "m2m": [...]}) with auditlog,
    its secret fields masked. Called once, when the apps are ready."""
    registered = []
    for label, options in config.items():
        model = apps.get_model(label)
        auditlog.register(
            model,
            exclude_fields=list(options.get("exclude", [])),
            mask_fields=audit_secret_fields(model=model),
            m2m_fields=set(options.get("m2m", [])),
        )
        registered.append(model)
    return registered


def audit_entries(*, model_label: str = "", object_pk: str = "") -> QuerySet:
    """Log entries, newest first, optionally of one model ("app_label.model") and one object."""
    from auditlog.models import LogEntry

    entries = LogEntry.objects.select_related("actor", "content_type").order_by("-timestamp", "-pk")
    if model_label:
        app_label, _, model_name = model_label.lower().partition(".")
        entries = entries.filter(content_type__app_label=app_label, content_type__model=model_name)
    if object_pk:
        entries = entries.filter(object_pk=object_pk)
    return entries


@dataclass(frozen=True)
class AuditChange:
    field: str
    old: str
    new: str


def _shown(value: Any) -> str:
    return "" if value in (None, "None") else str(value)


def audit_entry_changes(*, entry) -> list[AuditChange]:
    """An entry's changed fields with their old and new values (secrets already masked when recorded)."""
    changes = []
    for field, values in (entry.changes_dict or {}).items():
        if isinstance(values, dict):  # many-to-many: {"type": "m2m", "operation": "add", "objects": [...]}
            objects = ", ".join(map(str, values.get("objects", [])))
            changes.append(AuditChange(field, "", f"{values.get('operation', '')}: {objects}"))
            continue
        old, new = (list(values) + ["", ""])[:2]
        changes.append(AuditChange(field, _shown(old), _shown(new)))
    return changes


def audit_page(*, model_label: str = "", object_pk: str = "", page: int | str = 1, per_page: int = 50) -> Page:
    """One page of the log for the audit screen."""
    return Paginator(audit_entries(model_label=model_label, object_pk=object_pk), per_page).get_page(page)


class _RequestAuditContext(dict):
    """auditlog's per-request context, reading the actor when an entry is written rather than when the request
    starts, so that users authenticated later (API tokens, by DRF inside the view) are recorded too."""

    def __init__(self, data: dict, request) -> None:
        super().__init__(data)
        self._request = request

    def get(self, key, default=None):
        if key == "actor":
            user = getattr(self._request, "user", None)
            if isinstance(user, get_user_model()) and user.is_authenticated:
                return user
            return None
        return super().get(key, default)


class AuditMiddleware(AuditlogMiddleware):
    """auditlog's middleware with the actor read late (see above) and the client address read the way the
    rest of the project reads it (`AUDIT_CLIENT_IP_CALLABLE`, trusting only our own proxies)."""

    def get_extra_data(self, request):
        data = super().get_extra_data(request)
        ip_callable = getattr(settings, "AUDIT_CLIENT_IP_CALLABLE", "")
        if ip_callable and not settings.AUDITLOG_DISABLE_REMOTE_ADDR:
            data["remote_addr"] = import_string(ip_callable)(request) or None
        return _RequestAuditContext(data, request)
