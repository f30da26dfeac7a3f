"""Bump the routing revision when anything the cached network depends on changes, so every process
rebuilds its compiled rules, rates and locations on its next routing. Act on inventory's inbound signals:
route the orders that waited on received inbound (highest priority first), re-date backorders after a delay."""

import logging

from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from inventory.models import Location, LocationClosure, LocationGroup
from inventory.signals import inbound_received, inbound_redated
from routing.models import CarrierService, RateBand, RateCard, RateCardPrice, RoutingRule, RuleSet

log = logging.getLogger(__name__)


@receiver([post_save, post_delete], sender=Location)
@receiver([post_save, post_delete], sender=LocationClosure)
@receiver([post_save, post_delete], sender=LocationGroup)
@receiver([post_save, post_delete], sender=CarrierService)
@receiver([post_save, post_delete], sender=RateBand)
@receiver([post_save, post_delete], sender=RateCard)
@receiver([post_save, post_delete], sender=RateCardPrice)
@receiver([post_save, post_delete], sender=RuleSet)
@receiver([post_save, post_delete], sender=RoutingRule)
def _network_changed(sender, **kwargs):
    from routing.services import routing_revision_bump

    if kwargs.get("raw"):
        return
    routing_revision_bump()


@receiver(m2m_changed, sender=LocationGroup.locations.through)
def _group_members_changed(sender, action, **kwargs):
    from routing.services import routing_revision_bump

    if action in ("post_add", "post_remove", "post_clear"):
        routing_revision_bump()


@receiver(inbound_received)
def _inbound_received(sender, order_ids, product_ids, **kwargs):
    from routing.services.backorders import inbound_received_route

    # In a savepoint: a receipt is never undone by trouble routing; the backorder schedule tries again.
    try:
        with transaction.atomic():
            inbound_received_route(order_ids=order_ids, product_ids=product_ids)
    except Exception:
        log.exception("routing the orders waiting on received inbound failed; the backorder retry will")


@receiver(inbound_redated)
def _inbound_redated(sender, product_ids, **kwargs):
    from routing.services.backorders import backorders_date

    try:
        with transaction.atomic():
            backorders_date(product_ids=product_ids)
    except Exception:
        log.exception("re-dating backorders after an inbound delay failed; the backorder retry will")
