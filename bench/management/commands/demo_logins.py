"""Print the demo's logins (user, password, role, what to look at) — the one summary `make run` shows."""

from django.core.management.base import BaseCommand

from bench.demo import demo_logins_summary


class Command(BaseCommand):
    help = "Print the demo logins with their role and what to look at."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, port: int, **options):
        for line in demo_logins_summary(port=port):
            self.stdout.write(line)
