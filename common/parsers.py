"""The JSON every door parses: the checks of `json_body_load`, used by DRF views (`GuardedJSONParser`, the
default parser) and by the views that verify a signature over the raw body first (Shopify, WMS push).
Imports no DRF view code: the parser is loaded while DRF's settings are read."""

import json
import math

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError, ValidationError
from rest_framework.parsers import JSONParser

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


def json_body_load(body: bytes | str, *, refuse_nul: bool = True):
    """Parse a JSON body as every door must: refuses bodies that are not JSON, NaN / Infinity and nesting
    deeper than JSON_MAX_DEPTH (ParseError, a 400), and NUL characters anywhere - also in fields the API
    ignores but keeps in a raw payload - (ValidationError naming the path). WMS events pass
    refuse_nul=False: they refuse each bad event by itself and store none of the rest."""
    try:
        value = json.loads(body, parse_constant=_refuse_constant)
    except RecursionError:
        raise ParseError(f"JSON parse error - nested deeper than {JSON_MAX_DEPTH} levels.") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParseError(f"JSON parse error - {exc}") from None
    # Without the NUL check (WMS documents of a hundred thousand events) the walk is skipped: nothing of
    # such a document is stored as JSON, and the parser itself refuses what would exhaust the stack.
    problem = _json_problem(value) if refuse_nul else None
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
