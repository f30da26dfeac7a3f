"""The network as other apps see it: the read-only views routing decides on, the compiled rule set and the rate
card. Returns uses these to choose where a return goes with the same rules and costs as outbound routing;
nothing outside routing imports `routing.core`, `routing.rules` or `routing.costs` directly."""

from routing.core import LineView, LocationView, NetworkStatic, OrderView
from routing.costs import ServiceRates, rate_for
from routing.rules import CompiledRuleSet

__all__ = ["CompiledRuleSet", "LineView", "LocationView", "NetworkStatic", "OrderView", "ServiceRates", "rate_for"]
