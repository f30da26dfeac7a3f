"""Signal receivers of the e-mail app (connected in NotificationsConfig.ready)."""

from django.dispatch import receiver

from notifications.services import notifications_queue_for_events
from webhooks.signals import events_written


@receiver(events_written, dispatch_uid="notifications.queue_for_events")
def _queue_on_events(sender, *, events, **kwargs) -> None:
    # Inside the change's transaction: the messages commit or roll back with the event.
    notifications_queue_for_events(events=events)
