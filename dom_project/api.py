"""API plumbing shared by every app: the error format, and the JSON every door parses.

Error shape (every 4xx of the API): {"detail": "…"} or {"<field>": ["…", …], …}; per-line problems as
{"lines": [{…}, {}, …]} in line order. The schema documents it once, as the `Error` component."""

import datetime as dt
import json
import math

import django_filters
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.dateparse import parse_datetime
from django_filters.fields import IsoDateTimeField
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, ParseError, ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

# How deep a JSON body may nest: a Shopify order is about 6 levels deep; thousands of levels only exhaust
# the parser's stack (a RecursionError) and every later walk over the value.
JSON_MAX_DEPTH = 32


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "too_large"


def body_limit() -> int:
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 2_621_440


def too_large_detail() -> str:
    return f"The request body is larger than {body_limit():,} bytes; split it."


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _json_problem(value) -> tuple[str, str] | None:
    """(path, problem) of the first value PostgreSQL cannot store or the API does not take: a NUL character
    (in a key or a text) or nesting deeper than JSON_MAX_DEPTH. Iterative, so depth costs no stack."""
    stack = [(value, "", 0)]
    while stack:
        node, path, depth = stack.pop()
        if depth > JSON_MAX_DEPTH:
            return path or "body", f"Nested deeper than {JSON_MAX_DEPTH} levels."
        if isinstance(node, str):
            if "\x00" in node:
                return path or "body", "Null characters are not allowed."
        elif isinstance(node, float) and not math.isfinite(node):
            return path or "body", "NaN and Infinity are not numbers."
        elif isinstance(node, dict):
            for k, v in node.items():
                key_path = f"{path}.{k}" if path else str(k)
                if "\x00" in k:
                    return path or "body", "Null characters are not allowed (in a key)."
                stack.append((v, key_path, depth + 1))
        elif isinstance(node, list):
            stack.extend((v, f"{path}.{i}" if path else str(i), depth + 1) for i, v in enumerate(node))
    return None


def json_body_load(body: bytes | str):
    """Parse a JSON request body as every door must: refuses (ParseError, a 400 naming the path) bodies
    that are not JSON, NaN / Infinity, NUL characters anywhere (also in fields the API ignores but keeps in
    a raw payload), and nesting deeper than JSON_MAX_DEPTH; RequestTooLarge (413) beyond the upload limit."""
    if len(body) > body_limit():
        raise RequestTooLarge(too_large_detail())
    try:
        value = json.loads(body, parse_constant=_refuse_constant)
    except RecursionError:
        raise ParseError(f"JSON parse error - nested deeper than {JSON_MAX_DEPTH} levels.") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParseError(f"JSON parse error - {exc}") from None
    problem = _json_problem(value)
    if problem:
        raise ValidationError({problem[0]: [problem[1]]})
    return value


class GuardedJSONParser(JSONParser):
    """DRF's JSON parser with the checks of `json_body_load` and the upload size limit (Django applies
    DATA_UPLOAD_MAX_MEMORY_SIZE to request.body and forms, not to the stream DRF parsers read)."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = body_limit()
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise RequestTooLarge(too_large_detail())
        return json_body_load(raw)


def exception_handler(exc, context):
    """DRF's handler, plus Django ValidationErrors raised by services become 400s naming the problem, and a
    body beyond the upload limit is a 413 in the same shape (not Django's HTML 400 page)."""
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = ValidationError(detail=detail)
    elif isinstance(exc, RequestDataTooBig):
        exc = RequestTooLarge(too_large_detail())
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
