"""The orders list's filters (django-filter), shared by the screen."""

import django_filters
from django.db.models import Q

from orders.models import Channel, Order, OrderHold


class OrderScreenFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    channel = django_filters.ModelChoiceFilter(
        queryset=Channel.objects.all(), to_field_name="code", empty_label="All channels"
    )
    status = django_filters.ChoiceFilter(choices=Order.Status.choices, empty_label="Any status")
    fulfillment_method = django_filters.ChoiceFilter(
        choices=Order.Method.choices, empty_label="Any method", label="Method"
    )
    hold = django_filters.ChoiceFilter(
        choices=[("any", "Any active hold"), *OrderHold.Kind.choices],
        method="filter_hold",
        empty_label="Holds: all",
        label="Hold",
    )
    placed_from = django_filters.DateFilter(field_name="placed_at", lookup_expr="date__gte", label="Placed from")
    placed_to = django_filters.DateFilter(field_name="placed_at", lookup_expr="date__lte", label="Placed to")

    class Meta:
        model = Order
        fields = ["q", "channel", "status", "fulfillment_method", "hold", "placed_from", "placed_to"]

    def search(self, queryset, name, value):
        """Order number, channel order id, customer email, or a SKU on one of its lines."""
        value = value.strip()
        if not value:
            return queryset
        matching = Order.objects.filter(
            Q(number__iexact=value)
            | Q(external_id__iexact=value)
            | Q(number__icontains=value)
            | Q(customer__email__icontains=value)
            | Q(lines__sku__iexact=value)
        ).values("pk")
        return queryset.filter(pk__in=matching)

    def filter_hold(self, queryset, name, value):
        active = OrderHold.objects.filter(released_at__isnull=True)
        if value != "any":
            active = active.filter(kind=value)
        return queryset.filter(pk__in=active.values("order_id"))
