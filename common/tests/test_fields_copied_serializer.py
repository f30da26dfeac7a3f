"""FieldsCopiedSerializer validates exactly as DRF's Serializer, and its instances share no request state."""

from decimal import Decimal

from rest_framework import serializers

from common.api import FieldsCopiedSerializer


def _pair(base: type) -> type:
    class Line(base):
        sku = serializers.CharField(max_length=5)
        quantity = serializers.IntegerField(min_value=1)

    class Order(base):
        external_id = serializers.CharField(max_length=8)
        total = serializers.DecimalField(max_digits=6, decimal_places=2, default=Decimal("0"))
        kind = serializers.ChoiceField(choices=["a", "b"], default="a")
        customer = Line(required=False, allow_null=True)
        lines = Line(many=True, allow_empty=False)

    return Order


CASES = [
    {"external_id": "E-1", "lines": [{"sku": "A", "quantity": 2}]},
    {"external_id": "E-2-too-long", "total": "12345.678", "kind": "c", "lines": [{"sku": "TOOLONG", "quantity": 0}]},
    {"external_id": "E-3", "customer": {"sku": "X", "quantity": "x"}, "lines": []},
    {"lines": [{"sku": "A", "quantity": 1}, {"quantity": 1}]},
]


def test_same_answers_as_drf_serializer():
    ours, drf = _pair(FieldsCopiedSerializer), _pair(serializers.Serializer)
    for data in CASES:
        a, b = ours(data=data), drf(data=data)
        assert a.is_valid() == b.is_valid(), data
        assert a.errors == b.errors, data
        assert dict(a.validated_data) == dict(b.validated_data), data


def test_instances_do_not_share_bound_fields():
    cls = _pair(FieldsCopiedSerializer)
    one, two = cls(data=CASES[0]), cls(data=CASES[1])
    assert one.fields["external_id"] is not two.fields["external_id"]
    assert one.fields["external_id"].parent is one and two.fields["external_id"].parent is two
    assert one.fields["lines"] is not two.fields["lines"]
    assert one.is_valid() and not two.is_valid()
    assert one.validated_data["external_id"] == "E-1"  # the second's failure left the first's data alone
