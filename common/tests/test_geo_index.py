"""The in-memory ZIP index answers exactly as the `zipcodes` package's own lookup (`zipcodes.matching`)."""

import random

import zipcodes

from common.geo import zip_centroid, zip_index, zip_state


def _reference(code: str) -> tuple[str | None, tuple[float, float] | None]:
    """What common.geo answered when it called zipcodes.matching on every lookup."""
    if len(code) != 5 or not code.isdigit():
        return None, None
    matches = zipcodes.matching(code)
    state = matches[0]["state"] if matches else None
    for m in matches:
        try:
            lat, lon = float(m["lat"]), float(m["long"])
        except (KeyError, TypeError, ValueError):
            continue
        if lat or lon:
            return state, (lat, lon)
    return state, None


def test_index_equals_the_package_on_a_sample_of_known_and_unknown_zips():
    rng = random.Random(21)
    known = rng.sample(sorted({z["zip_code"] for z in zipcodes.list_all()}), 400)
    unknown = [f"{rng.randrange(100000):05d}" for _ in range(200)]
    odd = ["", "1234", "abcde", "00000", "99999", "10001-1234"]
    answered = 0
    for code in known + unknown + odd:
        state, centroid = _reference(code[:5] if code[:5].isdigit() else code)
        assert zip_state(postal_code=code) == state, code
        assert zip_centroid(postal_code=code) == centroid, code
        answered += state is not None
    assert answered >= 400  # the known sample really was found, so the comparison had teeth


def test_index_covers_every_zip_of_the_package():
    codes = {z["zip_code"] for z in zipcodes.list_all()}
    assert set(zip_index()) == codes and len(codes) > 40_000
