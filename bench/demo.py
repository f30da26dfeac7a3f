"""Writes the demo world (bench.world) into the database. Idempotent and bulk."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.utils import timezone
from rest_framework.authtoken.models import Token

from bench.world import build_world
from common import roles
from common.bulk import rows_insert
from inventory.models import (
    InventoryMovement,
    Location,
    LocationGroup,
    LocationKind,
    Product,
    SafetyStockRule,
    StockLevel,
)
from orders.models import ApiClient, Channel
from orders.services import channel_secret_rotate

DEMO_PASSWORD = "dom-demo-2026"
SHOPIFY_SECRET = "demo-shopify-webhook-secret"  # the demo shop's webhook signing secret (README)
CHANNELS = [
    ("web", "Brand web store", "web"),
    ("app", "Mobile app", "app"),
    ("marketplace", "Marketplace", "marketplace"),
    ("b2b", "B2B portal", "b2b"),
    ("shopify", "Shopify store", "web"),
]
SHOPIFY_DOMAIN = "demo-brand.myshopify.com"
# username, role, stores (index into the store list)
USERS = [
    ("merch", roles.MERCHANDISER, []),
    ("store", roles.STORE_STAFF, [0]),
    ("store2", roles.STORE_STAFF, [1]),
    ("inventory", roles.INVENTORY_MANAGER, []),
    ("ops", roles.OPERATIONS, []),
]


def demo_seed(*, scale: str = "small") -> list[str]:
    """Create (or complete) the demo retailer; returns lines describing what exists and the logins."""
    world = build_world(scale)
    report: list[str] = []
    existing = set(Location.objects.values_list("code", flat=True))
    new_locs = [
        Location(
            code=s.code,
            name=s.name,
            kind=s.kind,
            city=s.city,
            region=s.region,
            postal_code=s.postal_code,
            country="US",
            latitude=s.latitude,
            longitude=s.longitude,
            timezone=s.timezone,
            handling_classes=s.handling_classes,
            daily_capacity=s.daily_capacity,
            cutoff_time=s.cutoff,
            handling_cost_per_order=s.handling_cost_per_order,
            handling_cost_per_unit=s.handling_cost_per_unit,
            handling_cost_per_line=s.handling_cost_per_line,
            can_ship=s.can_ship,
            can_pickup=s.can_pickup,
            accepts_returns=s.accepts_returns,
            can_same_day=s.can_same_day,
            can_receive_transfers=s.can_receive_transfers,
        )
        for s in world.locations
        if s.code not in existing
    ]
    Location.objects.bulk_create(new_locs, batch_size=1000)
    loc_ids = dict(Location.objects.values_list("code", "pk"))
    for code, name, kind in [
        ("all-stores", "All stores", LocationKind.STORE),
        ("all-dcs", "All DCs", LocationKind.WAREHOUSE),
    ]:
        group, _ = LocationGroup.objects.get_or_create(code=code, defaults={"name": name})
        group.locations.add(*Location.objects.filter(kind=kind).values_list("pk", flat=True))

    existing_skus = set(Product.objects.values_list("sku", flat=True))
    Product.objects.bulk_create(
        [
            Product(
                sku=p.sku,
                name=p.name,
                handling_class=p.handling_class,
                weight_grams=p.weight_grams,
                length_in=p.dims_in[0],
                width_in=p.dims_in[1],
                height_in=p.dims_in[2],
                returnable=p.handling_class not in ("hazmat", "frozen"),
                return_window_days=30,
                hs_code="",
                country_of_origin="US",
            )
            for p in world.products
            if p.sku not in existing_skus
        ],
        batch_size=5000,
    )
    product_ids = dict(Product.objects.values_list("sku", "pk"))

    SafetyStockRule.objects.get_or_create(
        product=None,
        location=None,
        location_kind=LocationKind.STORE,
        defaults={"quantity": 1, "note": "Demo: 1 unit at every store"},
    )

    # Stock only for pairs that have none yet, each with its ledger movement (so levels = ledger sums).
    seeded = (
        set(StockLevel.objects.values_list("product__sku", "location__code")) if StockLevel.objects.exists() else set()
    )
    todo = [(sku, code, q) for sku, code, q in world.stock if (sku, code) not in seeded]
    # Written in product order, so each product's rows share a page or two (inventory/maintenance.py).
    todo.sort(key=lambda r: (product_ids[r[0]], loc_ids[r[1]]))
    now = timezone.now()
    rows_insert(
        table=StockLevel._meta.db_table,
        columns=["product_id", "location_id", "on_hand", "reserved", "updated_at"],
        rows=((product_ids[sku], loc_ids[code], q, 0, now) for sku, code, q in todo),
    )
    rows_insert(
        table=InventoryMovement._meta.db_table,
        columns=["product_id", "location_id", "delta_on_hand", "delta_reserved", "reason", "reference", "created_at"],
        rows=((product_ids[sku], loc_ids[code], q, 0, "initial", "seed_demo", now) for sku, code, q in todo),
    )

    if todo and connection.vendor == "postgresql":
        # Fresh planner statistics after a bulk load, or the first queries plan for empty tables.
        with connection.cursor() as cur:
            cur.execute("ANALYZE inventory_stocklevel, inventory_inventorymovement, inventory_product")

    for code, name, kind in CHANNELS:
        domain = SHOPIFY_DOMAIN if code == "shopify" else ""
        channel, _ = Channel.objects.get_or_create(
            code=code, defaults={"name": name, "kind": kind, "shop_domain": domain}
        )
        if domain and not channel.webhook_secret:
            channel_secret_rotate(channel=channel, new_secret=SHOPIFY_SECRET)

    User = get_user_model()
    stores = list(Location.objects.filter(kind=LocationKind.STORE).order_by("code"))
    report.append(
        f"Demo world '{scale}': {len(world.locations)} locations, {len(world.products)} products, "
        f"{len(world.stock)} stock rows ({len(todo)} added now), {len(CHANNELS)} channels."
    )
    report.append(f"Sign in at http://127.0.0.1:8000/ — every demo password is {DEMO_PASSWORD!r}:")
    admin, created = User.objects.get_or_create(username="admin", defaults={"is_staff": True, "is_superuser": True})
    if created:
        admin.set_password(DEMO_PASSWORD)
        admin.save()
    report.append("  admin      superuser (also /admin/)")
    for username, role, store_idx in USERS:
        user, created = User.objects.get_or_create(username=username, defaults={"is_staff": role != roles.STORE_STAFF})
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        user.groups.add(Group.objects.get(name=role))
        where = []
        for i in store_idx:
            if i < len(stores):
                stores[i].staff.add(user)
                where.append(stores[i].code)
        report.append(f"  {username:<10} {role}{' at ' + ', '.join(where) if where else ''}")
    api_user, _ = User.objects.get_or_create(username="web-api")
    api_user.groups.add(Group.objects.get(name=roles.API_CLIENT))
    ApiClient.objects.get_or_create(user=api_user, defaults={"channel": Channel.objects.get(code="web")})
    token, _ = Token.objects.get_or_create(user=api_user)
    report.append(f"  web-api    API client of channel 'web'; token {token.key}")
    return report


# username → what to look at first, for the summary `make run` prints
LOOK_AT = {
    "admin": "everything, and /admin/",
    "store": "/fulfillment/store/ on a phone: STORE-0001's queue (new, picking, ready for pickup), returns",
    "store2": "/fulfillment/store/ : STORE-0002's pickups and ship-from-store parcels",
    "merch": "/routing/rules/ : published rules with history, an open draft and its simulation; "
    "/admin/routing/ratecard/ : the carrier's rate card in force and next month's",
    "inventory": "/inventory/ : stock, imports, shortages, accuracy (cycle counts), feeds (one failed run), "
    "safety stock (forecast proposals to approve or reject)",
    "ops": "/orders/ (holds, backorders, Shopify), /dashboard/ (60 days of KPIs), /webhooks/ (a dead letter)",
}


def demo_logins_summary(*, port: int = 8000) -> list[str]:
    """The lines `make run` prints: where to sign in, each login with its role and what to look at."""
    from django.contrib.auth import get_user_model

    User = get_user_model()
    lines = [
        f"DOM demo ready: http://127.0.0.1:{port}/   password for every login: {DEMO_PASSWORD}",
        f"  {'login':<10} {'role':<22} look at",
    ]
    for user in User.objects.filter(username__in=LOOK_AT).prefetch_related("groups"):
        role = "Superuser" if user.is_superuser else ", ".join(g.name for g in user.groups.all())
        stores = ", ".join(user.locations.values_list("code", flat=True))
        role = f"{role} {stores}".strip()
        lines.append(f"  {user.username:<10} {role:<22} {LOOK_AT[user.username]}")
    token = Token.objects.filter(user__username="web-api").values_list("key", flat=True).first()
    if token:
        lines.append(f"  API token of web-api (channel 'web'): {token}   docs: http://127.0.0.1:{port}/api/docs/")
    lines.append(f"  Shopify channel 'shopify' ({SHOPIFY_DOMAIN}) webhook secret: {SHOPIFY_SECRET}")
    return lines
