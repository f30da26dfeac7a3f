"""API plumbing shared by every app: the error format."""

import datetime as dt

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.dateparse import parse_datetime
from django_filters.fields import IsoDateTimeField
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    """DRF's handler, plus Django ValidationErrors raised by services become 400s naming the problem."""
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = ValidationError(detail=detail)
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
