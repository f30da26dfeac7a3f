"""The inventory truth: locations, products, stock, safety stock, channel pools, reservations, ledger.

Only `inventory.services` writes StockLevel; every write there also writes an InventoryMovement.
"""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from common.credentials import CredentialRefused, credential_env_check
from common.netguard import OutboundRefused, outbound_url_check
from common.pathguard import PathRefused, path_under_root


def feed_secret_env_validate(value: str) -> None:
    """A feed's secret comes only from a variable with the feed prefix (common.credentials)."""
    try:
        credential_env_check(name=value, kind="feed")
    except CredentialRefused as exc:
        raise ValidationError(str(exc)) from exc


def feed_directory_validate(value: str) -> None:
    """A directory feed's inbox is inside the feed root (common.pathguard)."""
    try:
        path_under_root(folder=value)
    except PathRefused as exc:
        raise ValidationError(str(exc)) from exc


def feed_url_validate(value: str) -> None:
    """A pull URL's form is allowed (https, no credentials, no refused literal address); its addresses are
    checked again at every fetch (common.netguard)."""
    try:
        outbound_url_check(url=value)
    except OutboundRefused as exc:
        raise ValidationError(str(exc)) from exc


class HandlingClass(models.TextChoices):
    AMBIENT = "ambient", "Ambient"
    CHILLED = "chilled", "Chilled"
    FROZEN = "frozen", "Frozen"
    HAZMAT = "hazmat", "Hazmat"
    OVERSIZED = "oversized", "Oversized"


class LocationKind(models.TextChoices):
    WAREHOUSE = "warehouse", "Warehouse / DC"
    STORE = "store", "Store"
    THIRD_PARTY = "3pl", "3PL"
    DROPSHIP = "dropship", "Dropship supplier"
    # Units shipped by a transfer order and not yet received sit at the network's one transit location
    # (inventory.transfers): never active, never sells, so no availability query or routing plan counts it.
    TRANSIT = "transit", "In transit (transfers)"


def _default_handling_classes() -> list[str]:
    return [HandlingClass.AMBIENT.value]


class Location(models.Model):
    code = models.CharField(max_length=32, unique=True, help_text="Stable code, e.g. DC-EAST or STORE-0042.")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=LocationKind.choices, db_index=True)
    address_line1 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    region = models.CharField(max_length=50, blank=True, help_text="State or province code, e.g. NJ.")
    postal_code = models.CharField(max_length=20)
    country = models.CharField(max_length=2, default="US", help_text="ISO 3166-1 alpha-2.")
    latitude = models.FloatField(null=True, blank=True, help_text="Filled from the US ZIP centroid when blank.")
    longitude = models.FloatField(null=True, blank=True)
    timezone = models.CharField(max_length=64, default="America/New_York")
    is_active = models.BooleanField(default=True, db_index=True)
    can_ship = models.BooleanField(default=True)
    can_pickup = models.BooleanField(default=False)
    can_receive_transfers = models.BooleanField(default=False)
    can_same_day = models.BooleanField(default=False)
    accepts_returns = models.BooleanField(default=False)
    sell_online = models.BooleanField(default=True, help_text="Stock here is offered to online channels.")
    handling_classes = models.JSONField(default=_default_handling_classes, blank=True)
    daily_capacity = models.PositiveIntegerField(default=0, help_text="Orders per day; 0 means no online work.")
    low_stock_threshold = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="A product's ATS here below this is low stock at this location (alert and stock.low); "
        "blank: no per-location alert.",
    )
    cutoff_time = models.TimeField(default="15:00", help_text="Local order cut-off for same-day dispatch.")
    handling_cost_per_order = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal("2.50"))
    handling_cost_per_unit = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal("0.25"))
    handling_cost_per_line = models.DecimalField(
        max_digits=8, decimal_places=2, default=Decimal("0.00"), help_text="Labour per order line picked here."
    )
    staff = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="locations",
        help_text="Store staff who work at this location.",
    )

    class Meta:
        ordering = ["code"]
        permissions = [("import_location", "Can import locations")]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"

    def save(self, *args, **kwargs):
        if (self.latitude is None or self.longitude is None) and self.country == "US" and self.postal_code:
            from common.geo import zip_centroid

            centroid = zip_centroid(postal_code=self.postal_code)
            if centroid:
                self.latitude, self.longitude = centroid
        super().save(*args, **kwargs)


class LocationClosure(models.Model):
    """A day a location does no work (a stock count, a move, a local event): routing does not offer it as a
    ship day and promises from the location's next working day. Public holidays of the location's country and
    state (`region`) need no row: they come from the holiday calendar (`common.calendar`)."""

    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="closures")
    date = models.DateField()
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["location", "date"]
        constraints = [
            models.UniqueConstraint(fields=["location", "date"], name="location_closure_unique_day"),
        ]

    def __str__(self) -> str:
        return f"{self.location.code} closed {self.date:%Y-%m-%d}"


class LocationGroup(models.Model):
    code = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=200)
    locations = models.ManyToManyField(Location, related_name="groups", blank=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    sku = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=255)
    handling_class = models.CharField(max_length=16, choices=HandlingClass.choices, default=HandlingClass.AMBIENT)
    weight_grams = models.PositiveIntegerField(default=500)
    # One unit as packed, in inches (0 = unknown: billed on its actual weight alone).
    length_in = models.DecimalField(max_digits=6, decimal_places=1, default=Decimal("0.0"))
    width_in = models.DecimalField(max_digits=6, decimal_places=1, default=Decimal("0.0"))
    height_in = models.DecimalField(max_digits=6, decimal_places=1, default=Decimal("0.0"))
    returnable = models.BooleanField(default=True)
    return_window_days = models.PositiveIntegerField(default=30)
    hs_code = models.CharField(max_length=16, blank=True)
    country_of_origin = models.CharField(max_length=2, blank=True)
    low_stock_threshold = models.PositiveIntegerField(
        null=True, blank=True, help_text="Network ATS below this is low stock; blank uses the default."
    )
    is_active = models.BooleanField(default=True, db_index=True)
    image_url = models.URLField(
        max_length=500, blank=True, help_text="Product photo shown to store staff; blank shows a neutral placeholder."
    )

    class Meta:
        ordering = ["sku"]
        permissions = [("import_product", "Can import products")]

    def __str__(self) -> str:
        return f"{self.sku} — {self.name}"


class StockLevel(models.Model):
    # No single-column FK indexes: (product, location) and (location, product) cover them, and every
    # index costs time on bulk imports. No database FK checks either: PostgreSQL checks them row by row
    # (≈7 s per million rows on a first stock load), and every writer is in inventory.services, which
    # only writes ids it has just resolved or checked (stock_apply_changes, stock_merge_staged refuse
    # unknown ones). PROTECT still stops deleting a product or location with stock (Django enforces it).
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="stock_levels", db_index=False, db_constraint=False
    )
    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="stock_levels", db_index=False, db_constraint=False
    )
    on_hand = models.IntegerField(default=0)
    reserved = models.IntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["product", "location"], name="stock_unique_product_location"),
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="stock_on_hand_not_negative"),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="stock_reserved_not_negative"),
        ]
        indexes = [models.Index(fields=["location", "product"], name="stock_location_product")]
        permissions = [("import_stocklevel", "Can import stock levels")]

    def __str__(self) -> str:
        return f"{self.product_id}@{self.location_id}: {self.on_hand} on hand, {self.reserved} reserved"

    @property
    def is_short(self) -> bool:
        return self.reserved > self.on_hand


class SafetyStockRule(models.Model):
    """Units held back from selling. The most specific matching rule wins:
    product+location > product+kind > product > location > kind > network-wide."""

    product = models.ForeignKey(Product, null=True, blank=True, on_delete=models.CASCADE)
    location = models.ForeignKey(Location, null=True, blank=True, on_delete=models.CASCADE)
    location_kind = models.CharField(max_length=16, choices=LocationKind.choices, blank=True)
    quantity = models.PositiveIntegerField()
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(location__isnull=True) | Q(location_kind=""),
                name="safety_location_or_kind_not_both",
            ),
            models.UniqueConstraint(
                fields=["product", "location", "location_kind"],
                name="safety_unique_scope",
                nulls_distinct=False,
            ),
        ]

    def __str__(self) -> str:
        scope = [
            f"product {self.product.sku}" if self.product_id else None,
            f"location {self.location.code}" if self.location_id else None,
            f"kind {self.location_kind}" if self.location_kind else None,
        ]
        return f"{self.quantity} held back for " + (", ".join(s for s in scope if s) or "every product everywhere")


class ChannelAllocation(models.Model):
    """A channel's pool: it may sell at most a share (or an absolute number) of the network's stock."""

    class Mode(models.TextChoices):
        PERCENT = "percent", "Percent of network ATS"
        ABSOLUTE = "absolute", "Absolute units"

    channel = models.ForeignKey("orders.Channel", on_delete=models.CASCADE, related_name="allocations")
    product = models.ForeignKey(
        Product, null=True, blank=True, on_delete=models.CASCADE, help_text="Blank: every product."
    )
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.PERCENT)
    value = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "product"], name="allocation_unique", nulls_distinct=False),
            models.CheckConstraint(condition=Q(value__gte=0), name="allocation_value_not_negative"),
            models.CheckConstraint(
                condition=~Q(mode="percent") | Q(value__lte=100), name="allocation_percent_at_most_100"
            ),
        ]

    def __str__(self) -> str:
        what = self.product.sku if self.product_id else "all products"
        unit = "%" if self.mode == self.Mode.PERCENT else " units"
        return f"{self.channel} may sell {self.value}{unit} of {what}"


class RefType(models.TextChoices):
    """What a reservation (or one of its lines) is held for: a typed reference with an integer id, so no id is
    ever parsed out of text (inventory names no other app's model; the id is the other row's primary key)."""

    NONE = "", "None"
    ORDER = "order", "Order"
    ORDER_LINE = "order_line", "Order line"


class Reservation(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        CONSUMED = "consumed", "Consumed"
        RELEASED = "released", "Released"
        EXPIRED = "expired", "Expired"

    channel = models.ForeignKey("orders.Channel", null=True, blank=True, on_delete=models.PROTECT)
    reference = models.CharField(max_length=100, blank=True, db_index=True, help_text="Cart token or order ref.")
    ref_type = models.CharField(max_length=20, choices=RefType.choices, blank=True, default=RefType.NONE)
    ref_id = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["expires_at"], condition=Q(status="active"), name="reservation_active_expiry"),
            models.Index(fields=["ref_type", "ref_id"], name="reservation_ref"),
        ]

    def __str__(self) -> str:
        return f"Reservation {self.pk} ({self.status})"


class ReservationLine(models.Model):
    reservation = models.ForeignKey(Reservation, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT)
    location = models.ForeignKey(Location, on_delete=models.PROTECT)
    quantity = models.PositiveIntegerField()
    # Units already released or consumed from this line (partial release/consume).
    quantity_closed = models.PositiveIntegerField(default=0)
    reference = models.CharField(max_length=100, blank=True, help_text="e.g. order line id.")
    ref_type = models.CharField(max_length=20, choices=RefType.choices, blank=True, default=RefType.NONE)
    ref_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["ref_type", "ref_id"], name="reservation_line_ref")]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="reservation_line_quantity_positive"),
            models.CheckConstraint(
                condition=Q(quantity_closed__lte=F("quantity")), name="reservation_line_closed_le_quantity"
            ),
        ]

    @property
    def quantity_open(self) -> int:
        return self.quantity - self.quantity_closed


class InventoryMovement(models.Model):
    """The ledger: one row per change of on_hand or reserved. Never updated, never deleted."""

    class Reason(models.TextChoices):
        INITIAL = "initial", "Initial load"
        RECEIVE = "receive", "Received"
        ADJUST = "adjust", "Adjustment"
        COUNT = "count", "Cycle count"
        IMPORT = "import", "Import"
        FEED = "feed", "WMS feed"
        RESERVE = "reserve", "Reserved"
        RELEASE = "release", "Released"
        EXPIRE = "expire", "Reservation expired"
        CONSUME = "consume", "Shipped"
        RETURN = "return", "Returned to stock"
        DAMAGE = "damage", "Damaged / not sellable"
        TRANSFER_OUT = "transfer_out", "Transfer shipped"
        TRANSFER_IN = "transfer_in", "Transfer received"

    # The ledger is append-only and written only by inventory.services from ids it has just read, so it
    # carries no database FK checks (they cost ~7 s per million rows on bulk imports, and ~1–2 s even for
    # a NULL actor: the check trigger still fires per row); PROTECT and SET_NULL are enforced by Django.
    # The (product, location) index serves every per-key query; created_at gets a BRIN index on
    # PostgreSQL (migration 0003); actor is indexed only where set (SET_NULL on deleting a user uses it,
    # and bulk writes — imports, feeds, routing — mostly have no actor, so they skip it).
    product = models.ForeignKey(Product, on_delete=models.PROTECT, db_constraint=False, db_index=False)
    location = models.ForeignKey(Location, on_delete=models.PROTECT, db_constraint=False, db_index=False)
    delta_on_hand = models.IntegerField(default=0)
    delta_reserved = models.IntegerField(default=0)
    reason = models.CharField(max_length=16, choices=Reason.choices)
    reference = models.CharField(max_length=200, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_constraint=False,
        db_index=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["product", "location"], name="movement_product_location"),
            models.Index(fields=["actor"], name="movement_actor", condition=Q(actor__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.reason} {self.delta_on_hand:+}/{self.delta_reserved:+} {self.product_id}@{self.location_id}"


# --- Bulk stock: imports, shortages, WMS feeds, cycle counts ---------------------------------------------


class ImportMode(models.TextChoices):
    SNAPSHOT = "snapshot", "Snapshot (sets on hand)"
    DELTA = "delta", "Delta (adds to on hand)"


class StockImport(models.Model):
    """One stock file loaded by the fast path (command, upload page or a WMS CSV feed).

    The merge and the switch to `succeeded` happen in one transaction, so a run that dies half-way
    leaves nothing applied and can simply be run again.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Applied"
        VALIDATED = "validated", "Valid (dry run, nothing applied)"
        REJECTED = "rejected", "Rejected"
        DUPLICATE = "duplicate", "Already imported"
        FAILED = "failed", "Failed"

    FINISHED = (Status.SUCCEEDED, Status.VALIDATED, Status.REJECTED, Status.DUPLICATE, Status.FAILED)

    file = models.FileField(upload_to="inventory/imports/%Y/%m/", blank=True)
    original_name = models.CharField(max_length=255)
    mode = models.CharField(max_length=10, choices=ImportMode.choices, default=ImportMode.SNAPSHOT)
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.PROTECT, help_text="For files without a location column."
    )
    dry_run = models.BooleanField(default=False)
    force = models.BooleanField(default=False, help_text="Apply even if the same file was applied before.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    checksum = models.CharField(max_length=64, blank=True, db_index=True)
    size_bytes = models.BigIntegerField(default=0)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent done.")
    rows_total = models.PositiveIntegerField(default=0)
    rows_changed = models.PositiveIntegerField(default=0)
    rows_rejected = models.PositiveIntegerField(default=0)
    shortages = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="The first rejected rows (capped).")
    message = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Import {self.pk} {self.original_name} ({self.get_status_display()})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED


class StockShortage(models.Model):
    """A product × location whose on hand fell below what is reserved (a snapshot or count said so).

    Open while `resolved_at` is empty; routing re-routes the uncovered reservations from this list.
    """

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="shortages")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="shortages")
    on_hand = models.IntegerField()
    reserved = models.IntegerField()
    source = models.CharField(max_length=200, blank=True, help_text="What revealed it, e.g. import:12.")
    detected_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-detected_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["product", "location"], condition=Q(resolved_at__isnull=True), name="shortage_one_open"
            )
        ]

    def __str__(self) -> str:
        return f"Short {self.reserved - self.on_hand} of {self.product_id}@{self.location_id}"

    @property
    def quantity_short(self) -> int:
        return max(0, self.reserved - self.on_hand)


class WmsFeed(models.Model):
    """A warehouse system (or 3PL) sending stock positions: how it arrives, how it reads, how often."""

    class Format(models.TextChoices):
        CSV_SNAPSHOT = "csv_snapshot", "CSV snapshot (sku, location, on_hand)"
        CSV_DELTA = "csv_delta", "CSV delta (sku, location, delta)"
        JSON_EVENTS = "json_events", "JSON events"

    class Transport(models.TextChoices):
        DIRECTORY = "directory", "Watch a directory"
        HTTP_PULL = "http_pull", "Pull an HTTP URL"
        HTTP_PUSH = "http_push", "HTTP push endpoint"

    class Auth(models.TextChoices):
        TOKEN = "token", "Bearer token"
        HMAC = "hmac", "HMAC-SHA256 signature"

    name = models.SlugField(max_length=50, unique=True, help_text="Used in the push URL /api/v1/wms/<name>/events.")
    format = models.CharField(max_length=16, choices=Format.choices)
    transport = models.CharField(max_length=16, choices=Transport.choices)
    directory = models.CharField(
        max_length=500,
        blank=True,
        validators=[feed_directory_validate],
        help_text="Inbox inside the feed root (DOM_FEED_ROOT), relative to it or absolute; processed files move "
        "to archive/ and rejected/ beside them.",
    )
    url = models.URLField(
        max_length=500,
        blank=True,
        validators=[feed_url_validate],
        help_text="https:// URL pulled on schedule (public addresses only unless operations allow others).",
    )
    auth = models.CharField(max_length=8, choices=Auth.choices, default=Auth.TOKEN)
    secret_env = models.CharField(
        max_length=100,
        blank=True,
        validators=[feed_secret_env_validate],
        help_text="Name of the environment variable holding the shared secret (push token or HMAC key; sent as a "
        "bearer token when pulling). Must start with DOM_FEED_ (setting DOM_FEED_SECRET_PREFIX).",
    )
    location_map = models.JSONField(
        default=dict, blank=True, help_text='WMS location codes to ours, e.g. {"EDI1": "DC-EAST"}.'
    )
    default_location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.PROTECT, help_text="For files without a location column."
    )
    every_minutes = models.PositiveIntegerField(default=15)
    is_active = models.BooleanField(default=True)
    last_sequence = models.BigIntegerField(default=0, help_text="Highest event sequence received.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Fields only admins or holders of `configure_wmsfeed` may set: where the feed reads and with what secret.
    TRANSPORT_FIELDS = ("transport", "directory", "url", "auth", "secret_env")

    class Meta:
        ordering = ["name"]
        permissions = [("configure_wmsfeed", "Can set a feed's transport, URL, directory and credentials")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """The field the transport needs is set, and every transport field is allowed (the fields' own
        validators check the same when they are on a form; this covers callers of full_clean() with fields
        excluded). Errors are not tied to a field: a form may show the fields read-only."""
        problems = []
        if self.transport == self.Transport.DIRECTORY and not self.directory:
            problems.append("A directory feed needs its inbox folder (directory).")
        if self.transport == self.Transport.HTTP_PULL and not self.url:
            problems.append("A pull feed needs its URL (url).")
        if self.transport == self.Transport.HTTP_PUSH and not self.secret_env:
            problems.append("A push feed needs the name of its secret's variable (secret_env).")
        for check, value in (
            (feed_directory_validate, self.directory),
            (feed_url_validate, self.url),
            (feed_secret_env_validate, self.secret_env),
        ):
            if value:
                try:
                    check(value)
                except ValidationError as exc:
                    problems.extend(exc.messages)
        if problems:
            raise ValidationError(list(dict.fromkeys(problems)))

    @property
    def schedule_name(self) -> str:
        return f"inventory: wms feed {self.name}"


class FeedRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        SKIPPED = "skipped", "Nothing new"
        REJECTED = "rejected", "Rejected"
        FAILED = "failed", "Failed"
        INTERRUPTED = "interrupted", "Interrupted"

    FAILURES = (Status.REJECTED, Status.FAILED, Status.INTERRUPTED)

    feed = models.ForeignKey(WmsFeed, on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RUNNING, db_index=True)
    source = models.CharField(max_length=500, blank=True, help_text="File name, URL or 'push'.")
    checksum = models.CharField(max_length=64, blank=True, db_index=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    rows_applied = models.PositiveIntegerField(default=0)
    rows_rejected = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=dict, blank=True, help_text="Errors (capped), gaps, duplicates, stale events.")
    message = models.TextField(blank=True)
    stock_import = models.OneToOneField(StockImport, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.feed} run {self.pk} ({self.status})"


class WmsEvent(models.Model):
    """A JSON event received from a feed, kept so duplicates are recognised by id."""

    class Type(models.TextChoices):
        ADJUST = "adjust", "Adjust (±)"
        SET = "set", "Set on hand"
        RECEIVE = "receive", "Receive"
        SHIP = "ship", "Ship"

    class Outcome(models.TextChoices):
        APPLIED = "applied", "Applied"
        STALE = "stale", "Older than the state already applied"
        SUPERSEDED = "superseded", "Covered by a later set in the same batch"

    # Few indexes (the unique id, the feed's sequence, the applied sets per key) and no database foreign
    # keys (checked row by row at commit): events arrive by the hundred thousand. The feed row is locked while its
    # events are written.
    feed = models.ForeignKey(
        WmsFeed, on_delete=models.CASCADE, related_name="events", db_constraint=False, db_index=False
    )
    event_id = models.CharField(max_length=100)
    sequence = models.BigIntegerField()
    product = models.ForeignKey(Product, on_delete=models.PROTECT, db_constraint=False, db_index=False)
    location = models.ForeignKey(Location, on_delete=models.PROTECT, db_constraint=False, db_index=False)
    type = models.CharField(max_length=8, choices=Type.choices)
    quantity = models.IntegerField()
    at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    run = models.ForeignKey(
        FeedRun, null=True, blank=True, on_delete=models.SET_NULL, db_constraint=False, db_index=False
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["feed", "event_id"], name="wms_event_unique_id")]
        indexes = [
            # The feed's events by sequence (appended at the right edge: cheap to keep): the deltas applied
            # after a late set are found there.
            models.Index(fields=["feed", "sequence"], name="wms_event_feed_seq"),
            # The newest set applied per key (the cursor: older events are stale).
            models.Index(
                fields=["feed", "product", "location", "sequence"],
                name="wms_event_key_applied_set",
                condition=models.Q(type="set", outcome="applied"),
            ),
        ]


class CycleCount(models.Model):
    """A physical count: what was counted against what the system said at that moment."""

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="cycle_counts")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="cycle_counts")
    counted_quantity = models.PositiveIntegerField()
    system_quantity = models.IntegerField(help_text="On hand in the system when the count was recorded.")
    counted_at = models.DateTimeField(db_index=True)
    counted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    adjusted = models.BooleanField(default=True, help_text="On hand was set to the counted quantity.")
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-counted_at", "-id"]
        permissions = [("import_cyclecount", "Can import cycle counts")]

    def __str__(self) -> str:
        return f"Count {self.counted_quantity} (system {self.system_quantity}) {self.product_id}@{self.location_id}"

    @property
    def variance(self) -> int:
        return self.counted_quantity - self.system_quantity


# --- Supply over time: inbound shipments (purchase orders, ASNs) and transfer orders -------------------


class InboundShipment(models.Model):
    """Supply on its way into one of our locations: a purchase order, or a supplier's advance ship notice.

    Not fulfillment's dropship PurchaseOrder (the supplier ships a customer's lines directly): these units
    come into our own stock. Written only by inventory.inbound.
    """

    class Kind(models.TextChoices):
        PURCHASE_ORDER = "po", "Purchase order"
        ASN = "asn", "Advance ship notice"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PARTIAL = "partial", "Partly received"
        RECEIVED = "received", "Received"
        CANCELLED = "cancelled", "Cancelled"

    number = models.CharField(max_length=64, unique=True, help_text="The supplier's or buyer's PO / ASN number.")
    kind = models.CharField(max_length=4, choices=Kind.choices, default=Kind.PURCHASE_ORDER)
    supplier = models.CharField(max_length=200, help_text="Who ships it (supplier code or name).")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="inbound_shipments")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("import_inboundshipment", "Can import inbound shipments (CSV)")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.number}"


class InboundLine(models.Model):
    """One SKU of an inbound shipment. Open units = quantity − received − closed short (never below 0);
    `is_open` is kept by the services so the dated availability query reads only open lines by index."""

    shipment = models.ForeignKey(InboundShipment, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="inbound_lines")
    # The shipment's receiving location, copied onto its lines (a shipment never changes location) so the dated
    # availability query reads open lines from one covering index, without a join.
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()
    quantity_received = models.PositiveIntegerField(default=0)
    quantity_closed = models.PositiveIntegerField(default=0, help_text="Units no longer expected (closed short).")
    quantity_promised = models.PositiveIntegerField(
        default=0, help_text="Units already promised to customers against this line (not available to promise)."
    )
    expected_date = models.DateField()
    is_open = models.BooleanField(default=True)

    class Meta:
        ordering = ["expected_date", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="inbound_line_quantity_positive"),
            models.CheckConstraint(condition=Q(quantity_closed__lte=F("quantity")), name="inbound_line_closed_le_qty"),
            models.CheckConstraint(
                condition=Q(quantity_promised__lte=F("quantity")), name="inbound_line_promised_le_qty"
            ),
            models.UniqueConstraint(fields=["shipment", "product"], name="inbound_line_one_per_sku"),
        ]
        indexes = [
            models.Index(
                fields=["product", "expected_date"],
                include=["location", "quantity", "quantity_received", "quantity_closed", "quantity_promised"],
                condition=Q(is_open=True),
                name="inbound_open_by_date",
            )
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.product_id} due {self.expected_date}"

    @property
    def quantity_open(self) -> int:
        return max(0, self.quantity - self.quantity_received - self.quantity_closed)


class InboundAllocation(models.Model):
    """Backordered units of one order line waiting for one open inbound line (a dated backorder or pre-order).
    The order line is a typed reference (`ref_type` order_line, `ref_id` its pk; `order_id` for grouping)
    so inventory names no other app's table. Written only by inventory.backorders, which keeps each inbound
    line's `quantity_promised` equal to the sum of its allocations."""

    inbound_line = models.ForeignKey(InboundLine, on_delete=models.CASCADE, related_name="allocations")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    ref_type = models.CharField(max_length=20, choices=RefType.choices, default=RefType.ORDER_LINE)
    ref_id = models.BigIntegerField()
    order_id = models.BigIntegerField(db_index=True)
    quantity = models.PositiveIntegerField()
    rank = models.PositiveIntegerField(default=0, help_text="Place in the product's priority order (0 first).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["product_id", "rank", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="inbound_allocation_quantity_positive"),
            models.UniqueConstraint(
                fields=["inbound_line", "ref_type", "ref_id"], name="inbound_allocation_one_per_ref"
            ),
        ]
        indexes = [models.Index(fields=["ref_type", "ref_id"], name="inbound_allocation_ref")]

    def __str__(self) -> str:
        return f"{self.quantity} of line {self.inbound_line_id} for {self.ref_type} {self.ref_id}"


class InboundReceipt(models.Model):
    """Units of an inbound line counted in (a partial receipt is one of several). Over or under the open
    quantity needs a reason, kept here."""

    line = models.ForeignKey(InboundLine, on_delete=models.CASCADE, related_name="receipts")
    quantity = models.PositiveIntegerField()
    quantity_expected = models.PositiveIntegerField(help_text="Units still open when this receipt was recorded.")
    reason = models.CharField(max_length=200, blank=True, help_text="Why more or fewer units than open arrived.")
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"Received {self.quantity} of line {self.line_id}"


class InboundDateChange(models.Model):
    """A delay (or an earlier arrival): the line's expected date before and after, with why."""

    line = models.ForeignKey(InboundLine, on_delete=models.CASCADE, related_name="date_changes")
    old_date = models.DateField()
    new_date = models.DateField()
    reason = models.CharField(max_length=200)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"Line {self.line_id}: {self.old_date} → {self.new_date}"


class TransferOrder(models.Model):
    """Units moved between two of our locations (rebalancing). Shipping moves them from the source's on hand
    to the transit location; receiving moves them from there into the destination's on hand. Written only by
    inventory.transfers."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        IN_TRANSIT = "in_transit", "In transit"
        PARTIAL = "partial", "Partly received"
        RECEIVED = "received", "Received"
        CANCELLED = "cancelled", "Cancelled"

    number = models.CharField(max_length=32, unique=True)
    source = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="transfers_out")
    destination = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="transfers_in")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT, db_index=True)
    expected_date = models.DateField(help_text="When the units are expected at the destination.")
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(source=F("destination")), name="transfer_source_not_destination")
        ]

    def __str__(self) -> str:
        return self.number


class TransferLine(models.Model):
    transfer = models.ForeignKey(TransferOrder, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()
    quantity_shipped = models.PositiveIntegerField(default=0)
    quantity_received = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="transfer_line_quantity_positive"),
            models.CheckConstraint(condition=Q(quantity_shipped__lte=F("quantity")), name="transfer_line_shipped_le"),
            models.CheckConstraint(
                condition=Q(quantity_received__lte=F("quantity_shipped")), name="transfer_line_received_le"
            ),
            models.UniqueConstraint(fields=["transfer", "product"], name="transfer_line_one_per_sku"),
        ]

    @property
    def quantity_in_transit(self) -> int:
        return self.quantity_shipped - self.quantity_received


class DemandForecast(models.Model):
    """The latest demand forecast of a product at a location (blank location: the network), from the daily
    units reserved for orders (inventory.services.forecasts_refresh; inventory.forecasting fits it)."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="forecasts")
    location = models.ForeignKey(Location, null=True, blank=True, on_delete=models.CASCADE, related_name="forecasts")
    made_at = models.DateTimeField()
    history_days = models.PositiveIntegerField()
    daily = models.JSONField(default=list, help_text="Forecast units per day, from the day after made_at.")
    daily_mean = models.FloatField()
    sigma = models.FloatField(help_text="Standard deviation of the model's daily error in the backtest.")
    wape = models.FloatField(null=True, blank=True, help_text="Backtest WAPE of the model.")
    wape_naive = models.FloatField(null=True, blank=True, help_text="Backtest WAPE of the seasonal-naive baseline.")
    model = models.CharField(max_length=32, help_text="AutoETS, or SeasonalNaive for quiet series.")

    class Meta:
        ordering = ["product", "location"]
        constraints = [
            models.UniqueConstraint(
                fields=["product", "location"], name="demand_forecast_one_per_scope", nulls_distinct=False
            ),
        ]

    def __str__(self) -> str:
        where = self.location.code if self.location_id else "network"
        return f"{self.product.sku} at {where}: {self.daily_mean:.1f}/day"


class SafetyStockProposal(models.Model):
    """A safety stock the forecast error suggests for a product at a location: z × σ × √(lead time). Never
    applied by itself: an inventory manager approves it (then it becomes the product × location
    SafetyStockRule) or rejects it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a decision"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        SUPERSEDED = "superseded", "Replaced by a newer proposal"

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="safety_proposals")
    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="safety_proposals")
    current_quantity = models.PositiveIntegerField(null=True, blank=True, help_text="The rule's units; blank: none.")
    proposed_quantity = models.PositiveIntegerField()
    service_level = models.FloatField()
    lead_time_days = models.FloatField()
    sigma = models.FloatField()
    daily_mean = models.FloatField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["product", "location"],
                condition=Q(status="pending"),
                name="safety_proposal_one_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product.sku} at {self.location.code}: {self.current_quantity} → {self.proposed_quantity}"
