"""Signals sent by the outbound-events app.

`events_written` is sent with `events` (a list of saved `webhooks.models.Event`) right after they are
inserted, inside the transaction of the change that caused them: a receiver that writes (the customer
e-mails of `notifications`) commits or rolls back with that change. Receivers must be set-based: one
query per call, whatever the number of events."""

from django.dispatch import Signal

events_written = Signal()
