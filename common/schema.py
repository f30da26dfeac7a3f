"""drf-spectacular extensions: the schema states the limits DRF enforces but does not document."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiSerializerFieldExtension


class ListSerializerLimits(OpenApiSerializerFieldExtension):
    """A nested list (`Serializer(many=True, allow_empty=False, max_length=N)`) refuses an empty list and
    more than N items; drf-spectacular leaves both out. Stated as minItems / maxItems."""

    target_class = "rest_framework.serializers.ListSerializer"
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if schema is None or schema.get("type") != "array":
            return schema
        field = self.target
        min_items = max(field.min_length or 0, 0 if field.allow_empty else 1)
        if min_items:
            schema["minItems"] = min_items
        if field.max_length is not None:
            schema["maxItems"] = field.max_length
        return schema
