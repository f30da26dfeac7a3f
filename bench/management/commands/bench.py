"""`python manage.py bench NAME [--json] [options]`: the project's benchmarks, printing JSON.

Each module of the bench package listed in BENCH_MODULES declares its benchmarks as
`BENCHMARKS = {"name": function}`; a function takes the parsed options as keyword arguments and returns a dict
of figures. The command adds `calibration` (bench.calibration): fixed Python and SQL workloads timed in the
same run, so figures from two machines can be compared.
"""

import json
from importlib import import_module

from django.core.management.base import BaseCommand, CommandError

from bench.calibration import calibration_measure

BENCH_MODULES = (
    "bench.analytics",
    "bench.door",
    "bench.forecast",
    "bench.fulfillment",
    "bench.inventory",
    "bench.load",
    "bench.orders",
    "bench.outbox",
    "bench.peak",
    "bench.returns",
    "bench.routing",
)


def benchmarks_declared() -> dict:
    found = {}
    for name in BENCH_MODULES:
        found.update(getattr(import_module(name), "BENCHMARKS", {}))
    return found


class Command(BaseCommand):
    help = "Run a benchmark and print its figures as JSON."

    def add_arguments(self, parser):
        parser.add_argument("name", help="Which benchmark (run without a valid name to list them).")
        parser.add_argument("--json", action="store_true", help="Print only the JSON object.")
        parser.add_argument("--rows", type=int, default=None)
        parser.add_argument("--orders", type=int, default=None)
        parser.add_argument("--iterations", type=int, default=None)
        parser.add_argument("--threads", type=int, default=None)
        parser.add_argument("--seconds", type=float, default=None)
        parser.add_argument("--scale", choices=["small", "medium", "large"], default=None)
        parser.add_argument("--only", default=None, help="Run one part of a benchmark (e.g. `import --only wms`).")
        parser.add_argument("--door", choices=["api", "shopify"], default=None, help="`load`: which order door.")
        parser.add_argument(
            "--gap", action="store_true", default=None, help="`peak`: staged plans and the gap decomposition."
        )

    def handle(self, *args, name: str, json: bool, **options):
        found = benchmarks_declared()
        if name not in found:
            raise CommandError(f"Unknown benchmark {name!r}; choose from: {', '.join(sorted(found)) or 'none'}.")
        opts = {
            k: v
            for k, v in options.items()
            if k in ("rows", "orders", "iterations", "threads", "seconds", "scale", "only", "door", "gap")
            and v is not None
        }
        result = found[name](log=(lambda *_: None) if json else self.stderr.write, **opts)
        if isinstance(result, dict):
            result["calibration"] = calibration_measure()  # same run, same machine: figures compare across machines
        self.stdout.write(_dumps(result))


def _dumps(obj) -> str:
    return json.dumps(obj, indent=2, sort_keys=False, default=str)
