"""API plumbing shared by every app: the error format, and the JSON every door parses.

Error shape (every 4xx of the API): {"detail": "…"} or {"<field>": ["…", …], …}; per-line problems as
{"lines": [{…}, {}, …]} in line order. The schema documents it once, as the `Error` component."""

import copy
import datetime as dt

import django_filters
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.dateparse import parse_datetime
from django_filters.fields import IsoDateTimeField
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from common.errors import StateConflict
from common.parsers import RequestTooLarge, too_large_detail


def exception_handler(exc, context):
    """DRF's handler, plus Django ValidationErrors raised by services become 400s naming the problem, and a
    body beyond the upload limit is a 413 and too many fields a 400, in the same shape (not Django's HTML
    400 page)."""
    if isinstance(exc, StateConflict):
        return Response({"detail": exc.messages}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = ValidationError(detail=detail)
    elif isinstance(exc, RequestDataTooBig):
        exc = RequestTooLarge(too_large_detail())
    elif isinstance(exc, TooManyFieldsSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        exc = ValidationError({"detail": f"Too many query or form fields: at most {limit}."})
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, list):
        response.data = {"detail": response.data}
    return response


def error_response(*, body: dict, code: int = status.HTTP_400_BAD_REQUEST) -> Response:
    return Response(body, status=code)


LOCAL_TIME_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?$"


def schema_local_times(result: dict, generator, request, public) -> dict:
    """drf-spectacular post-processing hook: DRF's TimeField writes a local time ("15:00:00"), which is not
    an RFC 3339 `time` (that needs an offset); document it as HH:MM[:SS] instead."""

    def walk(node):
        if isinstance(node, dict):
            if node.get("format") == "time" and node.get("type") == "string":
                del node["format"]
                node.setdefault("pattern", LOCAL_TIME_PATTERN)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(result)
    return result


NO_NUL_PATTERN = "^[^\\u0000]*$"


def schema_no_nul_text(result: dict, generator, request, public) -> dict:
    """drf-spectacular post-processing hook: text with a NUL character is refused everywhere (DRF's
    ProhibitNullCharactersValidator; PostgreSQL text cannot hold it): free text states it with a pattern."""

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "string" and not ({"pattern", "enum", "format"} & node.keys()):
                node["pattern"] = NO_NUL_PATTERN
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(result.get("components", {}).get("schemas", {}))
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            if isinstance(operation, dict):
                walk(operation.get("parameters", []))
                walk(operation.get("requestBody", {}))
    return result


class StrictBooleanField(serializers.BooleanField):
    """A JSON boolean is true or false: DRF's field also takes 0, 1, "yes", "on" …, which the schema's
    `boolean` does not allow."""

    def to_internal_value(self, data):
        if data is True or data is False:
            return data
        self.fail("invalid", input=data)


def _json_typed(base: type, json_types: tuple[type, ...], schema_type: str) -> type:
    """`base`, refusing a JSON value not of `json_types` (DRF coerces 0 to "0" and "5" to 5)."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, json_types):
            raise serializers.ValidationError(f"Give a JSON {schema_type}.", code="invalid")
        return base.to_internal_value(self, data)

    return type(f"Strict{base.__name__}", (base,), {"to_internal_value": to_internal_value})


StrictCharField = _json_typed(serializers.CharField, (str,), "string")
StrictDecimalField = _json_typed(serializers.DecimalField, (str,), "string (a decimal number)")
StrictIntegerField = _json_typed(serializers.IntegerField, (int,), "integer")
StrictFloatField = _json_typed(serializers.FloatField, (int, float), "number")


def strict_json_field_mapping() -> dict:
    """ModelSerializer.serializer_field_mapping whose fields take exactly the JSON types the schema states."""
    from django.db import models

    return {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.BooleanField: StrictBooleanField,
        models.CharField: StrictCharField,
        models.TextField: StrictCharField,
        models.SlugField: StrictCharField,
        models.DecimalField: StrictDecimalField,
        models.IntegerField: StrictIntegerField,
        models.PositiveIntegerField: StrictIntegerField,
        models.PositiveSmallIntegerField: StrictIntegerField,
        models.SmallIntegerField: StrictIntegerField,
        models.FloatField: StrictFloatField,
    }


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 date-time that must carry its UTC offset: a naive one (no `Z` or `+01:00`) is refused
    rather than silently taken as the server's time zone; dates beyond what UTC can hold are refused too."""

    default_error_messages = {
        "naive": "Give the UTC offset, e.g. 2026-03-02T10:15:00Z or 2026-03-02T11:15:00+01:00.",
        "range": "The date and time is out of range.",
    }

    def to_internal_value(self, value):
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:
                parsed = None
            if parsed is not None and parsed.tzinfo is None:
                self.fail("naive")
        result = super().to_internal_value(value)
        try:
            result.astimezone(dt.UTC)
        except OverflowError:
            self.fail("range")
        return result


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time as UTC: offsets Python accepts but PostgreSQL does not (beyond ±15:59) are
    normalised instead of reaching the database as a 500; dates out of range are a clear 400."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is not None and value.tzinfo is not None:
            try:
                value = value.astimezone(dt.UTC)
            except OverflowError as exc:
                raise DjangoValidationError(f"{value.isoformat()} is out of range.") from exc
        return value


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


# --- The schema's promises about errors -----------------------------------------------------------------
ERROR_COMPONENT = {
    "type": "object",
    "description": (
        'Every error of the API: {"detail": "…"} for the request as a whole, or the fields at fault, each with '
        'its messages ({"lines": [{…}, {}, …]} per line in line order; a CSV import: {"errors": [{row, field, '
        "message}]})."
    ),
    "properties": {"detail": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}},
    "additionalProperties": True,
}
# What the shared plumbing can answer on any operation: input refused (400, 413 body too large, 415 media
# type), authentication and roles (401, 403), unknown object (404), method or Accept not served (405, 406),
# rate limits (429), the database away (503). Writes may also conflict with the object's state (409).
ERROR_STATUSES = {
    "400": "The request is invalid; the body names each field at fault.",
    "401": "Not authenticated.",
    "403": "Authenticated, but not allowed (role, channel or location scope, or a bad signature).",
    "404": "No such object (or not visible to the caller).",
    "405": "Method not allowed.",
    "406": "The Accept header asks for a type this operation does not produce.",
    "413": "The request body is larger than the upload limit.",
    "415": "Unsupported media type.",
    "429": "Rate limited; retry after the Retry-After seconds.",
    "503": "The database is unavailable; nothing was saved. Retry after a few seconds.",
}
WRITE_ERROR_STATUSES = {
    "409": "The object's state does not allow this (e.g. cancelling a shipped order).",
    "422": "Understood but not acceptable for the object's state.",
}


def schema_error_responses(result: dict, generator, request, public) -> dict:
    """drf-spectacular post-processing hook: one `Error` component, and every status the shared plumbing
    can answer documented on every operation (what an operation documents itself is kept)."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_COMPONENT
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            statuses = dict(ERROR_STATUSES)
            if method != "get":
                statuses.update(WRITE_ERROR_STATUSES)
            responses = operation.setdefault("responses", {})
            for code, description in statuses.items():
                responses.setdefault(code, {"description": description, "content": ref})
    return result


class AwareUtcIsoDateTimeField(UtcIsoDateTimeField):
    """Like UtcIsoDateTimeField, but a time without an offset is refused (it would be read in the server's
    time zone, which a client cannot know)."""

    def to_python(self, value):
        if isinstance(value, str) and value.strip():
            try:
                parsed = parse_datetime(value.strip().replace("z", "Z").replace("Z", "+00:00"))
            except ValueError:
                parsed = None  # the parent says what is wrong with it
            if parsed is not None and parsed.tzinfo is None:
                raise DjangoValidationError("Give a time zone offset, e.g. 2026-03-02T14:00:00Z.")
        return super().to_python(value)


class AwareUtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = AwareUtcIsoDateTimeField


class FieldsCopiedSerializer(serializers.Serializer):
    """A serializer that copies its declared leaf fields (`copy.copy`) for each instance instead of DRF's deep
    copy, which runs every field's constructor again: on the order intake door that re-construction was a
    tenth of the request's CPU (`bench door_cost`, profile in docs/scaling.md), work that is the same for
    every request. A leaf field's constructor state (validators, choices, messages) is only read afterwards;
    what a request changes (`bind`: name, parent, source) is set on its own copy. Nested serializers are
    still deep-copied, each built of copies of its own fields when it is a FieldsCopiedSerializer too."""

    def get_fields(self) -> dict:
        return {
            name: copy.deepcopy(field) if isinstance(field, serializers.BaseSerializer) else copy.copy(field)
            for name, field in self._declared_fields.items()
        }
