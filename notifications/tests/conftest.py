from fulfillment.tests.conftest import pickup_fo, stocked  # noqa: F401 — shared fixtures
