"""Write routing/data/zip3_centroids.csv from the `zipcodes` data (the centroid of each ZIP3)."""

from django.core.management.base import BaseCommand

from common.csv import csv_writer
from routing.zip3 import DATA_FILE, zip3_centroids_compute


class Command(BaseCommand):
    help = "Regenerate routing/data/zip3_centroids.csv (ZIP3 centroids for carrier zones) from the zipcodes package."

    def handle(self, *args, **options):
        rows = zip3_centroids_compute()
        DATA_FILE.parent.mkdir(parents=True, exist_ok=True)
        with DATA_FILE.open("w", newline="") as fh:
            writer = csv_writer(stream=fh, lineterminator="\n")
            writer.writerow(["zip3", "latitude", "longitude"])
            writer.writerows([z, lat, lon] for z, (lat, lon) in rows.items())
        self.stdout.write(f"wrote {len(rows)} ZIP3 centroids to {DATA_FILE}")
