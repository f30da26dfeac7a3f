"""django-q2 entry points of the rule editor. Thin: they take primary keys and are safe to run twice."""

from routing.editor.models import Simulation
from routing.editor.simulation import simulation_run


def simulate(simulation_id: int) -> str:
    """Run a what-if simulation; a second delivery finds it done (or running) and leaves it alone, and a
    simulation deleted meanwhile (its draft was discarded) is skipped."""
    if not Simulation.objects.filter(pk=int(simulation_id)).exists():
        return "gone"
    return simulation_run(simulation_id=int(simulation_id)).status
