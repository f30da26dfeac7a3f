"""Bump the routing revision when anything the cached network depends on changes, so every process
rebuilds its compiled rules, rates and locations on its next routing."""

from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from inventory.models import Location, LocationGroup
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
