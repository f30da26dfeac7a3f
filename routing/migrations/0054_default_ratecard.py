"""Seed the default rate card (routing.ratecard.DEFAULT_CARD) so that a clean install routes on one."""

from django.db import migrations


def forwards(apps, schema_editor):
    from routing.ratecard import DEFAULT_CARD

    RateCard = apps.get_model("routing", "RateCard")
    RateCardPrice = apps.get_model("routing", "RateCardPrice")
    if RateCard.objects.exists():
        return
    c = DEFAULT_CARD
    card = RateCard.objects.create(
        carrier=c.carrier,
        version=c.version,
        effective_from=c.effective_from,
        note="shipped default card",
        fuel_pct=c.fuel_pct,
        residential=c.residential,
        remote_area=c.remote_area,
        remote_zip3s=" ".join(sorted(c.remote_zip3s)),
        additional_handling=c.additional_handling,
        handling_over_lb=c.handling_over_lb,
        handling_over_in=c.handling_over_in,
        oversize=c.oversize,
        oversize_over_in=c.oversize_over_in,
        dim_divisor=c.dim_divisor,
        light_parcel_max_lb=c.light_parcel_max_lb,
        truck_run_cost=c.truck_run_cost,
        truck_units_per_run=c.truck_units_per_run,
    )
    RateCardPrice.objects.bulk_create(
        RateCardPrice(
            card=card,
            service=r.service,
            zone=r.zone,
            max_lb=r.max_lb,
            base=r.base,
            per_lb=r.per_lb,
            transit_days=r.transit_days,
        )
        for r in c.rows
    )


class Migration(migrations.Migration):
    dependencies = [("routing", "0053_ratecard")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
