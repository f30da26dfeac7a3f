"""Channel webhook secrets: write-only, rotated with an overlap during which both verify."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from orders.models import Channel
from orders.services.lifecycle import logger

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


SECRET_MIN_LENGTH = 16


def channel_secret_clean(*, new_secret: str) -> str:
    """The secret to store (spaces at the ends dropped), or ValidationError naming `new_secret`."""
    secret = (new_secret or "").strip()
    if not SECRET_MIN_LENGTH <= len(secret) <= 200:
        raise ValidationError({"new_secret": f"A webhook secret has {SECRET_MIN_LENGTH} to 200 characters."})
    return secret


def channel_secret_rotate(
    *, channel: Channel, new_secret: str, actor: AbstractBaseUser | None = None, overlap: timedelta | None = None
) -> Channel:
    """Set or rotate a channel's webhook secret. The current secret (if any) becomes the previous one and
    keeps verifying for `overlap` (default: the DOM["CHANNEL_SECRET_OVERLAP_HOURS"] setting; zero: not at all)
    or until `channel_secret_retire_previous`. Secret values are never logged or returned."""
    secret = channel_secret_clean(new_secret=new_secret)
    if overlap is None:
        overlap = timedelta(hours=settings.DOM["CHANNEL_SECRET_OVERLAP_HOURS"])
    now = timezone.now()
    with transaction.atomic():
        locked = Channel.objects.select_for_update().get(pk=channel.pk)
        if secret in (locked.webhook_secret, locked.webhook_secret_previous):
            raise ValidationError({"new_secret": "Choose a secret this channel has not used in its last rotation."})
        keep_old = bool(locked.webhook_secret) and overlap > timedelta(0)
        locked.webhook_secret_previous = locked.webhook_secret if keep_old else ""
        locked.webhook_secret_previous_until = now + overlap if keep_old else None
        locked.webhook_secret = secret
        locked.webhook_secret_set_at = now
        locked.save(
            update_fields=[
                "webhook_secret",
                "webhook_secret_set_at",
                "webhook_secret_previous",
                "webhook_secret_previous_until",
            ]
        )
    logger.info("Channel %s: webhook secret %s by %s.", locked.code, "rotated" if keep_old else "set", actor)
    _channel_copy_secret_fields(source=locked, target=channel)
    return channel


def channel_secret_retire_previous(*, channel: Channel, actor: AbstractBaseUser | None = None) -> Channel:
    """Stop accepting the previous webhook secret now (the end of a rotation's overlap)."""
    with transaction.atomic():
        locked = Channel.objects.select_for_update().get(pk=channel.pk)
        locked.webhook_secret_previous = ""
        locked.webhook_secret_previous_until = None
        locked.save(update_fields=["webhook_secret_previous", "webhook_secret_previous_until"])
    logger.info("Channel %s: previous webhook secret retired by %s.", locked.code, actor)
    _channel_copy_secret_fields(source=locked, target=channel)
    return channel


def _channel_copy_secret_fields(*, source: Channel, target: Channel) -> None:
    for name in ("webhook_secret", "webhook_secret_set_at", "webhook_secret_previous", "webhook_secret_previous_until"):
        setattr(target, name, getattr(source, name))
