"""Query strings hold to the schema: a filter typed boolean, date-time, number or enum refuses a blank or
malformed value with a 400 naming the parameter (instead of reading it as "no filter"), and the page number
is an integer ≥ 1. Plain text filters keep "" as "no filter", which their schema (a string) allows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import django_filters
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination

BOOLEAN_VALUES = ("true", "false")


def query_params_validate(
    *,
    params,
    typed: Iterable[str] = (),
    booleans: Iterable[str] = (),
    choices: Mapping[str, Iterable[str]] | None = None,
) -> None:
    """Raise a 400 naming every parameter given blank (`typed`), not as true/false (`booleans`) or outside
    its enum (`choices`). `params` is the request's QueryDict."""
    choices = choices or {}
    errors: dict[str, list[str]] = {}
    for name in set(typed) | set(booleans) | set(choices):
        for value in params.getlist(name):
            if value == "":
                errors[name] = ["This parameter may not be blank."]
            elif name in booleans and value not in BOOLEAN_VALUES:
                errors[name] = [f"{value!r} is not a boolean; use true or false."]
            elif name in choices and value not in set(choices[name]):
                errors[name] = [f"{value!r} is not one of {', '.join(sorted(choices[name]))}."]
    if errors:
        raise ValidationError(errors)


def _filter_kinds(filters: Mapping[str, django_filters.Filter]) -> tuple[set[str], set[str]]:
    """(typed, booleans) among a filterset's filters: every filter but plain text is typed."""
    booleans = {n for n, f in filters.items() if isinstance(f, django_filters.BooleanFilter)}
    text = {
        n
        for n, f in filters.items()
        if type(f) is django_filters.CharFilter and not f.extra.get("choices")  # noqa: E721 — exact class
    }
    return set(filters) - text, booleans


class StrictFilterBackend(DjangoFilterBackend):
    """django-filter, with blank or malformed typed values refused before filtering (see module doc)."""

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None:
            typed, booleans = _filter_kinds(filterset_class.base_filters)
            query_params_validate(params=request.query_params, typed=typed, booleans=booleans)
        return super().filter_queryset(request, queryset, view)


class StrictPageNumberPagination(PageNumberPagination):
    """`?page=` must be an integer ≥ 1 (400 naming `page` otherwise); a page past the last one is a 404."""

    def get_page_number(self, request, paginator):
        raw = request.query_params.get(self.page_query_param)
        if raw is None:
            return 1
        if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
            raise ValidationError({self.page_query_param: ["A page number is an integer ≥ 1."]})
        return raw

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"] = {**parameter["schema"], "minimum": 1}
        return parameters
