"""The shipped examples validate against the simulator and match what the domain asks for;
the plan layer imports nothing else of mesodrive."""

from __future__ import annotations

import grimp
import pytest

from mesodrive.plan import DeviceLimits, load_library, validate_plan_file

from .helpers import EXAMPLES


def test_library_has_hair_and_skin_with_every_limit() -> None:
    lib = load_library(EXAMPLES / "products.toml")
    assert {p.indication for p in lib.products} == {"hair", "skin"}
    for p in lib.products:
        assert p.missing_limits() == [], p.id


def test_scalp_example() -> None:
    vp = validate_plan_file(EXAMPLES / "scalp.toml", DeviceLimits.default())
    assert vp.product.indication == "hair" and vp.mode == "auto"
    assert 140 <= len(vp.points) <= 170
    area_cm2 = 3.14159 * 6.0 * 7.0  # the ellipse's 60 × 70 mm semi-axes
    assert 0.05 <= vp.total_volume_ul / 1000 / area_cm2 <= 0.1  # mL/cm² (DOMAIN.md)
    assert vp.cadence_hz is not None and vp.cadence_hz <= vp.estimate.achievable_cadence_hz
    assert vp.estimate.refills == 0  # one 10 mL syringe, as the simulator boots with
    assert [o.field for o in vp.overrides] == ["depth_mm"] and vp.overrides[0].reason


def test_face_example() -> None:
    vp = validate_plan_file(EXAMPLES / "face.toml", DeviceLimits.default())
    assert vp.product.indication == "skin" and vp.mode == "auto"
    assert 90 <= len(vp.points) <= 110
    assert {p.volume_ul for p in vp.points} == {20.0}
    assert all(1.0 <= p.depth_mm <= 2.0 for p in vp.points)
    assert vp.cadence_hz is not None and vp.cadence_hz <= vp.estimate.achievable_cadence_hz
    assert vp.overrides == ()


@pytest.mark.parametrize("name", ["scalp.toml", "face.toml"])
def test_examples_hash_is_stable(name: str) -> None:
    a = validate_plan_file(EXAMPLES / name)
    b = validate_plan_file(EXAMPLES / name)
    assert a.plan_hash == b.plan_hash and len(a.plan_hash) == 64


def test_plan_layer_imports_nothing_of_mesodrive() -> None:
    graph = grimp.build_graph("mesodrive")
    plan = graph.find_descendants("mesodrive.plan") | {"mesodrive.plan"}
    outside = sorted(
        (importer, imported)
        for importer in plan
        for imported in graph.find_modules_directly_imported_by(importer)
        if imported.startswith("mesodrive") and imported not in plan
    )
    assert outside == []


@pytest.mark.parametrize("name", ["scalp.toml", "face.toml"])
def test_examples_stay_valid_with_conservative_mechanics(name: str) -> None:
    """A controller that builds DeviceLimits from the identity alone gets the slower default
    mechanics (acceleration, retraction); the examples' cadences must still be achievable."""
    import dataclasses

    sim = DeviceLimits.default()
    caps = {f.name: getattr(sim, f.name) for f in dataclasses.fields(sim)
            if f.name not in ("needle_accel_mm_s2", "retract_speed_mm_s", "approach_mm")}
    vp = validate_plan_file(EXAMPLES / name, DeviceLimits(**caps))
    assert vp.cadence_hz is not None and vp.cadence_hz <= vp.estimate.achievable_cadence_hz
