"""Screenshots of each role's main screens from a running, seeded demo into docs/screens/ (the README links them).

    make run                      # or: seed_demo, then runserver
    python manage.py demo_screenshots --base-url http://127.0.0.1:8000

Reads the screens' ids from the same database the server uses (DATABASE_URL); drives Debian's Chromium."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from bench.demo import DEMO_PASSWORD
from bench.demo_screens import demo_screens

CHROMIUM = "/usr/bin/chromium"


class Command(BaseCommand):
    help = "Save a PNG of every role's main screens of the running demo into docs/screens/."

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")
        parser.add_argument("--out", default=str(Path(settings.BASE_DIR) / "docs" / "screens"))
        parser.add_argument("--only", nargs="*", default=[], help="Names of the screens to take (default: all).")

    def handle(self, *args, base_url: str, out: str, only: list[str], **options):
        from playwright.sync_api import sync_playwright

        screens = [s for s in demo_screens() if not only or s.name in only]
        if not screens:
            raise CommandError("No screen to take: seed the demo first (python manage.py seed_demo).")
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True)
            for s in screens:
                context = browser.new_context(base_url=base_url, viewport=s.viewport)
                page = context.new_page()
                page.goto("/login/")
                page.fill("input[name=username]", s.username)
                page.fill("input[name=password]", DEMO_PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url(lambda url: "/login/" not in url)
                page.goto(s.path)
                page.wait_for_load_state("networkidle")
                target = folder / f"{s.name}.png"
                page.screenshot(path=str(target))
                context.close()
                self.stdout.write(f"{target}  ({target.stat().st_size // 1024} KB)  {s.title}: {s.path}")
            browser.close()
