"""Who changed what: the audit log of master data and settings (common.audit), for Operations and admins."""

from django.shortcuts import render

from common.audit import audit_entry_changes, audit_page
from common.roles import OPERATIONS, role_required


@role_required(OPERATIONS)
def audit_log(request):
    """Newest changes first; `?model=inventory.location&object=12` narrows to one object's history."""
    model_label = request.GET.get("model", "")[:100]
    object_pk = request.GET.get("object", "")[:255]
    page = audit_page(model_label=model_label, object_pk=object_pk, page=request.GET.get("page", 1))
    rows = [(entry, audit_entry_changes(entry=entry)) for entry in page]
    query = "&".join(f"{k}={v}" for k, v in (("model", model_label), ("object", object_pk)) if v)
    return render(
        request,
        "audit/log.html",
        {"page": page, "rows": rows, "model": model_label, "object_pk": object_pk, "query": query},
    )
