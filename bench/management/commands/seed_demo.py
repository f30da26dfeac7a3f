"""Load the demo retailer (idempotent). `--scale large` is the standard benchmark world (no demo orders)."""

import logging
import time
from functools import partial

from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.test.utils import override_settings
from django.utils import timezone

from bench.demo import demo_seed
from bench.demo_orders import demo_orders_seed


class Command(BaseCommand):
    help = (
        "Create the demo retailer: locations on real US ZIPs, products, stock, channels, one user per role, and "
        "(small scale) 60 days of order history and today's open work in every screen."
    )

    def add_arguments(self, parser):
        parser.add_argument("--scale", choices=["small", "large"], default="small")
        parser.add_argument("--no-orders", action="store_true", help="Skip the demo orders and history.")
        parser.add_argument("--days", type=int, default=60, help="Days of order history (small scale).")
        parser.add_argument("--quiet", action="store_true")

    def handle(self, *args, scale: str, no_orders: bool, days: int, quiet: bool, **options):
        started = time.monotonic()
        # The summary below is the output: no line per queued task or per service's INFO log meanwhile.
        logging.disable(logging.INFO)
        try:
            self._seed(scale=scale, no_orders=no_orders, days=days, quiet=quiet, started=started)
        finally:
            logging.disable(logging.NOTSET)

    def _seed(self, *, scale: str, no_orders: bool, days: int, quiet: bool, started: float) -> None:
        if connection.vendor == "sqlite":
            with connection.cursor() as cur:  # a throw-away demo database: no fsync per commit
                cur.execute("PRAGMA synchronous=OFF")
        with transaction.atomic():
            report = demo_seed(scale=scale)
        if scale == "small" and not no_orders:
            # Customer e-mails of the seeded past go nowhere (the console backend would print each one).
            with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
                report.append(self._orders(days=days))
        report.append(f"Seeded in {time.monotonic() - started:.0f} s.")
        if not quiet:
            for line in report:
                self.stdout.write(line)

    def _orders(self, *, days: int) -> str:
        from bench.demo_extras import demo_extras_seed
        from bench.demo_history import demo_history_context, demo_history_seed
        from bench.demo_scenes import (
            EXPRESS_RULE,
            STORE_RULE,
            demo_feed_seed,
            demo_imports_seed,
            demo_receiver,
            demo_rules_publish,
            demo_scenes_seed,
            demo_subscriptions_seed,
        )
        from orders.models import Order

        if Order.objects.filter(external_id__startswith="HIST-").exists():
            return "Demo orders: already there."
        ctx = demo_history_context(now=timezone.now())
        hooks: dict[int, list] = {}
        for ago, hook in (
            (days - 5, partial(demo_rules_publish, rule=STORE_RULE, comment="City stores ship their region")),
            (days // 2, partial(demo_rules_publish, rule=EXPRESS_RULE, comment="Express: no dropship")),
            (10, demo_feed_seed),
            (3, demo_imports_seed),
            (2, demo_subscriptions_seed),
        ):
            hooks.setdefault(max(1, min(ago, days)), []).append(hook)
        with demo_receiver() as port:
            ctx["receiver_port"] = port
            history = demo_history_seed(ctx=ctx, days=days, hooks=hooks)
            today = demo_orders_seed(count=24)
            demo_scenes_seed(ctx=ctx)
            demo_extras_seed(ctx=ctx)
        return (
            f"Demo orders: {history} over {days} days of history, {today} placed today, "
            "plus holds, backorders, returns, supply on its way and a changed order."
        )
