"""The benchmarks and the demo / benchmark world, kept out of the production apps.

`python manage.py bench NAME` runs a benchmark (one module per area: `bench.routing`, `bench.inventory`, …,
`bench.load` for the whole system under a peak); `python manage.py seed_demo` writes the demo retailer
(`bench.world` generates it, `bench.demo` stores it, `bench.demo_orders` routes its demo orders);
`bench.factories` makes orders and fulfilment orders the way routing makes them, for benchmarks and tests.
Production apps never import this package; it imports theirs."""
