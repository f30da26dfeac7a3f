"""Bump the routing revision when anything the cached network depends on changes, so every process
rebuilds its compiled rules, rates and locations on its next routing."""

from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from inventory.models import Location, LocationGroup
from inventory.signals import inbound_received, inbound_redated
from routing.models import CarrierService, RateBand, RoutingRule, RuleSet


@receiver([post_save, post_delete], sender=Location)
@receiver([post_save, post_delete], sender=LocationGroup)
@receiver([post_save, post_delete], sender=CarrierService)
@receiver([post_save, post_delete], sender=RateBand)
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

    inbound_received_route(order_ids=order_ids, product_ids=product_ids)


@receiver(inbound_redated)
def _inbound_redated(sender, product_ids, **kwargs):
    from routing.services.backorders import backorders_date

    backorders_date(product_ids=product_ids)
