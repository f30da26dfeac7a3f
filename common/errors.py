"""Errors services raise that the API answers with a specific status."""

from django.core.exceptions import ValidationError


class StateConflict(ValidationError):
    """The request is well formed but the object's current state does not allow it (a delivered fulfilment
    order cannot be delivered again): the API answers 409 Conflict with the message, forms show it like any
    other validation error."""
