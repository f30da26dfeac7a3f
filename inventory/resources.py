"""django-import-export resources for the admin: natural keys (code, sku, sku + location), export too.

Stock rows are never saved by the library: StockLevelResource collects the new on-hand figures and hands
them to `inventory.services.stock_snapshot_apply` once per import (ledger movements, shortages), inside
the library's transaction, so the preview (a dry run rolled back) and the confirmed import run the same
code. Lookups are cached per import: one query for products, one for locations, one for existing stock.
"""

from __future__ import annotations

import copy
import html

from django.core.exceptions import ValidationError
from django.utils.safestring import SafeString
from import_export import fields, resources, widgets

from common.bulk import gc_paused
from inventory.models import CycleCount, InventoryMovement, Location, Product, StockLevel
from inventory.services import cycle_count_record, stock_snapshot_apply


class LocationResource(resources.ModelResource):
    class Meta:
        model = Location
        import_id_fields = ("code",)
        exclude = ("id", "staff")
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True


class ProductResource(resources.ModelResource):
    class Meta:
        model = Product
        import_id_fields = ("sku",)
        exclude = ("id",)
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True


class _CachedKeyWidget(widgets.ForeignKeyWidget):
    """ForeignKeyWidget by natural key, with every key of the import loaded in one query and a clear
    message for unknown ones."""

    def __init__(self, model, field: str, label: str) -> None:
        super().__init__(model, field)
        self.label = label
        self.cache: dict[str, object] = {}
        self.by_id: dict[int, object] = {}

    def preload(self, values) -> None:
        wanted = {v for v in values if v not in (None, "")}
        self.cache = {getattr(o, self.field): o for o in self.model.objects.filter(**{f"{self.field}__in": wanted})}
        self.by_id = {o.pk: o for o in self.cache.values()}

    def clean(self, value, row=None, **kwargs):
        value = "" if value is None else str(value).strip()
        if not value:
            raise ValueError(f"missing {self.label}")
        obj = self.cache.get(value)
        if obj is None:
            obj = self.model.objects.filter(**{self.field: value}).first()
            if obj is None:
                raise ValueError(f"unknown {self.label} {value!r}")
            self.cache[value] = obj
            self.by_id[obj.pk] = obj
        return obj


class _KeyField(fields.Field):
    """A foreign key read from the widget's cache by id, so rows never fetch (or deep-copy) the related
    object: the library copies every instance to compare before and after."""

    def get_value(self, instance):
        pk = instance.__dict__.get(f"{self.attribute}_id")
        return self.widget.by_id.get(pk) if pk is not None else None


def _cheap_to_copy(level: StockLevel) -> StockLevel:
    """The library deep-copies every row's instance (its "before" picture, compared after the row is read
    in); a stock row holds only plain values, so a shallow copy is the same picture at a fraction of the
    cost (deepcopy walks the model's state and caches)."""
    level.__deepcopy__ = lambda memo: _shallow_copy(level)
    return level


def _shallow_copy(level: StockLevel) -> StockLevel:
    clone = StockLevel.__new__(StockLevel)
    clone.__dict__.update(level.__dict__)
    clone._state = copy.copy(level._state)
    clone._state.fields_cache = dict(level._state.fields_cache)
    return clone


class _LevelDiff(resources.Diff):
    """The preview's before/after per column, read straight from the row (no widget rendering or
    localisation per value) and shown as whole values, old struck through and new underlined, instead of a
    character diff: the same information, cheap enough for tens of thousands of rows."""

    def __init__(self, resource, instance, new) -> None:
        self.new = new
        self.left = self._values(resource, instance)
        self.right: list[str] = []

    def compare_with(self, resource, instance) -> None:
        self.right = self._values(resource, instance)

    @staticmethod
    def _values(resource, instance) -> list[str]:
        if instance is None:
            return [""] * len(resource.get_import_fields())
        values = []
        for field in resource.get_import_fields():
            value = field.get_value(instance)
            natural_key = getattr(field.widget, "field", None)  # sku / code for the two keys
            values.append("" if value is None else str(getattr(value, natural_key) if natural_key else value))
        return values

    def as_html(self) -> list[SafeString]:
        # Plain escaping: Django's format_html/escape go through lazy-string wrappers, costly per cell.
        cells = []
        for before, after in zip(self.left, self.right, strict=False):
            old = "" if before != after and self.new else before
            if old == after:
                cells.append(SafeString(f"<span>{html.escape(after)}</span>"))
            elif old:
                cells.append(SafeString(f"<del>{html.escape(old)}</del><ins>{html.escape(after)}</ins>"))
            else:
                cells.append(SafeString(f"<ins>{html.escape(after)}</ins>"))
        return cells


class _StockInstanceLoader:
    """Existing StockLevel rows of the import, loaded in one query."""

    def __init__(self, resource, dataset=None) -> None:
        self.resource = resource
        self.levels: dict[tuple[int, int], StockLevel] = {}
        if dataset is not None and len(dataset):
            sku_w, loc_w = resource.sku_widget, resource.location_widget
            sku_w.preload(dataset["sku"])
            loc_w.preload(dataset["location"])
            pids = [p.pk for p in sku_w.cache.values()]
            lids = [loc.pk for loc in loc_w.cache.values()]
            for level in StockLevel.objects.filter(product_id__in=pids, location_id__in=lids):
                self.levels[(level.product_id, level.location_id)] = level

    def get_instance(self, row):
        # Unknown keys load nothing here; the field widgets then report them on their column.
        product = self.resource.sku_widget.cache.get(str(row.get("sku") or "").strip())
        location = self.resource.location_widget.cache.get(str(row.get("location") or "").strip())
        if product is None or location is None:
            return None
        level = self.levels.get((product.pk, location.pk))
        return _cheap_to_copy(level) if level is not None else None


class _NonNegativeInteger(widgets.IntegerWidget):
    def clean(self, value, row=None, **kwargs):
        if value is None or str(value).strip() == "":
            raise ValueError("missing on_hand")
        try:
            number = super().clean(value, row, **kwargs)
        except (ValueError, ArithmeticError) as exc:
            raise ValueError(f"not a whole number: {value!r}") from exc
        if number is None or number != float(str(value).strip()):
            raise ValueError(f"not a whole number: {value!r}")
        if number < 0:
            raise ValueError(f"negative on_hand: {value!r}")
        return number


class StockLevelResource(resources.ModelResource):
    """Columns sku, location, on_hand (reserved is exported, never imported). Snapshot semantics."""

    sku = _KeyField(attribute="product", column_name="sku")
    location = _KeyField(attribute="location", column_name="location")
    on_hand = fields.Field(attribute="on_hand", column_name="on_hand")
    reserved = fields.Field(attribute="reserved", column_name="reserved", readonly=True)

    class Meta:
        model = StockLevel
        fields = ("sku", "location", "on_hand", "reserved")
        import_id_fields = ("sku", "location")
        skip_unchanged = True
        report_skipped = True
        use_transactions = True
        instance_loader_class = _StockInstanceLoader
        # "Bulk": no savepoint per row (two round trips each); rows are collected and applied once.
        use_bulk = True
        batch_size = 5000

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.sku_widget = _CachedKeyWidget(Product, "sku", "SKU")
        self.location_widget = _CachedKeyWidget(Location, "code", "location")
        self.fields["sku"].widget = self.sku_widget
        self.fields["location"].widget = self.location_widget
        self.fields["on_hand"].widget = _NonNegativeInteger()
        self._pending: list[tuple[int, int, int]] = []
        self._seen: dict[tuple[str, str], int] = {}
        self._import_fields: list | None = None
        self.user = None

    def import_data(self, *args, **kwargs):
        # The library keeps several objects per row alive until the end: without the pause, the cyclic
        # collector's full passes walk them again and again (about a quarter of the time).
        with gc_paused():
            return super().import_data(*args, **kwargs)

    def get_import_fields(self):
        # Asked four times per row by the library; the fields never change during an import.
        if self._import_fields is None:
            self._import_fields = super().get_import_fields()
        return self._import_fields

    def get_diff_class(self):
        return _LevelDiff

    def init_instance(self, row=None):
        return _cheap_to_copy(super().init_instance(row))

    def dehydrate_sku(self, level: StockLevel) -> str:
        return level.product.sku

    def dehydrate_location(self, level: StockLevel) -> str:
        return level.location.code

    def get_queryset(self):
        return StockLevel.objects.select_related("product", "location").order_by("product__sku", "location__code")

    def before_import(self, dataset, **kwargs) -> None:
        missing = [c for c in ("sku", "location", "on_hand") if c not in (dataset.headers or [])]
        if missing:
            raise ValidationError(f"Missing column(s): {', '.join(missing)}. Expected sku, location, on_hand.")
        self._pending, self._seen = [], {}
        self.user = kwargs.get("user")

    def before_import_row(self, row, row_number=None, **kwargs) -> None:
        key = (str(row.get("sku") or "").strip(), str(row.get("location") or "").strip())
        first = self._seen.setdefault(key, row_number)
        if first != row_number:
            raise ValidationError({"sku": [f"duplicate SKU × location (first on row {first})"]})

    # Never saved by the library: collected here and applied through the ledger in after_import.
    def bulk_create(self, using_transactions, dry_run, raise_errors, batch_size=None, result=None) -> None:
        self._pending.extend((i.product_id, i.location_id, i.on_hand) for i in self.create_instances)
        self.create_instances.clear()

    def bulk_update(self, using_transactions, dry_run, raise_errors, batch_size=None, result=None) -> None:
        self._pending.extend((i.product_id, i.location_id, i.on_hand) for i in self.update_instances)
        self.update_instances.clear()

    def do_instance_save(self, instance, is_create) -> None:
        self._pending.append((instance.product_id, instance.location_id, instance.on_hand))

    def after_import(self, dataset, result, **kwargs) -> None:
        super().after_import(dataset, result, **kwargs)
        if self._pending and not result.has_errors() and not result.has_validation_errors():
            stock_snapshot_apply(
                levels=self._pending,
                reason=InventoryMovement.Reason.IMPORT,
                reference="admin import",
                actor=self.user,
            )
        self._pending = []


class CycleCountResource(resources.ModelResource):
    """Import counts as sku, location, counted_quantity[, counted_at, note]; the system quantity is
    taken at import time and on hand is set to the count (ledger reason "count")."""

    sku = fields.Field(attribute="product", column_name="sku", widget=widgets.ForeignKeyWidget(Product, "sku"))
    location = fields.Field(
        attribute="location", column_name="location", widget=widgets.ForeignKeyWidget(Location, "code")
    )

    class Meta:
        model = CycleCount
        fields = ("id", "sku", "location", "counted_quantity", "system_quantity", "counted_at", "note")
        import_id_fields = ()
        use_transactions = True

    def before_import(self, dataset, **kwargs) -> None:
        self.user = kwargs.get("user")

    def get_instance(self, instance_loader, row):
        return None  # every imported count is a new record

    def do_instance_save(self, instance, is_create) -> None:
        if not is_create:
            raise ValidationError("Cycle counts are records of the past: import new counts, not changes.")
        saved = cycle_count_record(
            product=instance.product,
            location=instance.location,
            counted_quantity=instance.counted_quantity,
            counted_at=instance.counted_at,
            note=instance.note or "",
            actor=self.user,
        )
        instance.pk = saved.pk
        instance.system_quantity = saved.system_quantity

    def import_instance(self, instance, row, **kwargs):
        super().import_instance(instance, row, **kwargs)
        if instance.system_quantity is None:
            instance.system_quantity = 0  # replaced by the real figure when recorded
