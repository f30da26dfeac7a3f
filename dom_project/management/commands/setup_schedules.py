"""Create or update every app's django-q2 schedules. Idempotent: run it on every deploy."""

from importlib import import_module

from django.apps import apps
from django.core.management.base import BaseCommand
from django_q.models import Schedule


def schedules_declared() -> list[tuple[str, str, int]]:
    """All (name, func, minutes) from each app's `schedules.SCHEDULES`."""
    found = []
    for config in apps.get_app_configs():
        try:
            module = import_module(f"{config.name}.schedules")
        except ModuleNotFoundError:
            continue
        found.extend(getattr(module, "SCHEDULES", []))
    return found


class Command(BaseCommand):
    help = "Create or update the recurring background jobs (django-q2 schedules)."

    def handle(self, *args, **options):
        for name, func, minutes in schedules_declared():
            _, created = Schedule.objects.update_or_create(
                name=name,
                defaults={"func": func, "schedule_type": Schedule.MINUTES, "minutes": minutes, "repeats": -1},
            )
            self.stdout.write(f"{'created' if created else 'updated'}: {name} every {minutes} min")
        # Schedules that depend on data (e.g. one per WMS feed): an app's `schedules.sync()` creates,
        # updates and removes its own, idempotently, and returns what it did.
        for sync in schedules_dynamic():
            for line in sync():
                self.stdout.write(line)


def schedules_dynamic() -> list:
    """Each app's optional `schedules.sync` function."""
    found = []
    for config in apps.get_app_configs():
        try:
            module = import_module(f"{config.name}.schedules")
        except ModuleNotFoundError:
            continue
        if callable(getattr(module, "sync", None)):
            found.append(module.sync)
    return found
