"""Roles are Django groups (created by a data migration). One place answers "may this user do X"."""

from collections.abc import Callable, Iterable
from functools import reduce, wraps
from operator import or_

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from rest_framework.permissions import BasePermission

MERCHANDISER = "Merchandiser"
STORE_STAFF = "Store staff"
INVENTORY_MANAGER = "Inventory manager"
OPERATIONS = "Operations"
API_CLIENT = "API client"
ALL_ROLES = (MERCHANDISER, STORE_STAFF, INVENTORY_MANAGER, OPERATIONS, API_CLIENT)
# Back-office staff roles (everyone but machine clients).
STAFF_ROLES = (MERCHANDISER, STORE_STAFF, INVENTORY_MANAGER, OPERATIONS)


# Model permissions each role gets: keys are an app label (every model of the app) or "app_label.model"
# (one model); values the actions (view/add/change/delete, or a custom permission prefix such as import).
# This is what each role reaches in the admin. Customer data (customers, orders and what carries their
# addresses: fulfilment orders, shipments, purchase orders, outbox messages, returns) is for Operations only.
ROLE_PERMISSIONS: dict[str, dict[str, list[str]]] = {
    MERCHANDISER: {
        "routing": ["view", "add", "change", "delete"],  # rule sets, rules, settings, carriers, capacities
        "inventory.product": ["view"],
        "inventory.location": ["view"],
        "inventory.locationgroup": ["view"],
    },
    # Store screens check the role and the user's stores; the admin is not theirs.
    STORE_STAFF: {},
    INVENTORY_MANAGER: {"inventory": ["view", "add", "change", "delete", "import"]},
    OPERATIONS: {
        "orders": ["view", "add", "change", "delete"],
        "fulfillment": ["view", "add", "change", "delete"],
        "returns": ["view", "add", "change", "delete"],
        "inventory": ["view"],
        "routing": ["view"],
        "auditlog": ["view"],  # who changed what (common.audit): Operations and admins only
    },
    API_CLIENT: {},
}


def _grant_filter(*, key: str, action: str) -> Q:
    app_label, _, model = key.partition(".")
    cond = Q(content_type__app_label=app_label, codename__startswith=f"{action}_")
    return cond & Q(content_type__model=model) if model else cond


def roles_install(*, group_model, permission_model) -> None:
    """Create the role groups and give each exactly the model permissions of ROLE_PERMISSIONS (grants a
    role no longer has are taken away). Idempotent; runs from the data migration and after every
    migrate/flush (so models added later get their grants too)."""
    for name, grants in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=name)
        conds = [_grant_filter(key=key, action=action) for key, actions in grants.items() for action in actions]
        wanted = permission_model.objects.filter(reduce(or_, conds)) if conds else permission_model.objects.none()
        group.permissions.set(list(wanted))


def user_roles(*, user) -> frozenset[str]:
    """The role names of a user, cached on the user object for the request."""
    if not user or not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_dom_roles", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))
        user._dom_roles = cached
    return cached


def user_roles_remember(*, user, names: Iterable[str]) -> None:
    """Cache the user's group names, read elsewhere (token authentication reads them with the token)."""
    user._dom_roles = frozenset(names)


def user_has_role(*, user, roles: Iterable[str]) -> bool:
    """True when the user holds any of `roles`; superusers hold every role."""
    if not user or not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    return bool(user_roles(user=user) & set(roles))


def role_required(*roles: str) -> Callable:
    """View decorator: signed-in users holding one of `roles`, else 403 (anonymous users go to login)."""

    def decorator(view: Callable) -> Callable:
        @login_required
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not user_has_role(user=request.user, roles=roles):
                raise PermissionDenied(f"This page needs one of the roles: {', '.join(roles)}.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


class HasRole(BasePermission):
    """DRF permission: set `allowed_roles` on the view (and optionally `read_roles` for safe methods)."""

    message = "Your account does not have a role allowed to use this endpoint."

    def has_permission(self, request, view) -> bool:
        roles = getattr(view, "allowed_roles", ())
        if request.method in ("GET", "HEAD", "OPTIONS"):
            roles = tuple(roles) + tuple(getattr(view, "read_roles", ()))
        return user_has_role(user=request.user, roles=roles)


def roles_context(request) -> dict:
    """Template context: `roles` (set of names) and `is_<role>` flags for navigation."""
    user = getattr(request, "user", None)
    names = user_roles(user=user) if user else frozenset()
    su = bool(user and user.is_authenticated and user.is_superuser)
    return {
        "roles": names,
        "is_merchandiser": su or MERCHANDISER in names,
        "is_store_staff": su or STORE_STAFF in names,
        "is_inventory_manager": su or INVENTORY_MANAGER in names,
        "is_operations": su or OPERATIONS in names,
    }
