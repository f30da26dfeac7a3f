"""django-q2 entry points of the rule editor. Thin: they take primary keys and are safe to run twice."""

from routing.simulation import simulation_run


def simulate(simulation_id: int) -> str:
    """Run a what-if simulation; a second delivery finds it done (or running) and leaves it alone."""
    return simulation_run(simulation_id=int(simulation_id)).status
