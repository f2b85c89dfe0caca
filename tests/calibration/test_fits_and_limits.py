"""Depth and dose fits recover the device's hidden linear errors and give a driver profile
that cancels them; acceptance limits load strictly and decide pass/fail at their edges."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mesodrive.calibration.environment import Environment
from mesodrive.calibration.errors import FitError, LimitsError
from mesodrive.calibration.fits import (
    DepthPoint,
    DosePoint,
    fit_depth,
    fit_dose,
    fit_line,
    profile_from,
)
from mesodrive.calibration.gravimetric import evaluate_test_volume
from mesodrive.calibration.limits import load_limits, verify_depth, verify_dose
from mesodrive.driver.calibration_profile import CalibrationProfile

LIMITS_FILE = Path(__file__).resolve().parents[2] / "calibration" / "limits.toml"


def test_simulator_defaults_are_recovered_and_cancelled() -> None:
    # The simulator's hidden errors: depth 0.955·c + 0.120 mm, volume 1.03·c − 0.120 µL.
    depth = fit_depth([DepthPoint(d, d, (0.955 * d + 0.120,)) for d in (1.0, 2.5, 4.0)])
    dose = fit_dose([DosePoint(v, v, 1.03 * v - 0.120) for v in (10.0, 20.0, 50.0)])
    assert (depth.scale, depth.offset_mm) == (pytest.approx(0.955), pytest.approx(0.120))
    assert (dose.gain, dose.offset_ul) == (pytest.approx(1.03), pytest.approx(-0.120))
    profile = profile_from("bench-1", depth=depth, dose=dose)
    for requested in (1.0, 2.0, 4.0):
        assert 0.955 * profile.commanded_depth_mm(requested) + 0.120 == pytest.approx(requested)
    for requested in (1.0, 20.0, 100.0):
        assert 1.03 * profile.commanded_volume_ul(requested) - 0.120 == pytest.approx(requested)


@given(scale=st.floats(0.8, 1.2), offset=st.floats(-0.5, 0.5),
       commanded=st.lists(st.floats(1.0, 4.0), min_size=2, max_size=6, unique=True)
       .filter(lambda xs: max(xs) - min(xs) > 0.5))
def test_a_fit_of_exact_points_is_exact(scale: float, offset: float, commanded: list[float]) -> None:
    fit = fit_line(commanded, [scale * c + offset for c in commanded])
    assert fit.slope == pytest.approx(scale, abs=1e-9)
    assert fit.intercept == pytest.approx(offset, abs=1e-9)
    assert fit.max_abs_residual < 1e-9


def test_a_fit_from_a_calibrated_device_uses_commanded_values() -> None:
    # Measured through an old profile: the fit must see wire-level (commanded) values.
    old = CalibrationProfile("old", depth_scale=0.98, depth_offset_mm=0.05)
    points = []
    for requested in (1.0, 2.5, 4.0):
        commanded = old.commanded_depth_mm(requested)
        points.append(DepthPoint(requested, commanded, (0.955 * commanded + 0.120,)))
    fit = fit_depth(points)
    assert (fit.scale, fit.offset_mm) == (pytest.approx(0.955), pytest.approx(0.120))


def test_unusable_fits_are_typed() -> None:
    with pytest.raises(FitError, match="two different"):
        fit_line([2.0, 2.0], [2.1, 2.2])
    with pytest.raises(FitError, match="unusable profile"):
        profile_from("x", dose=fit_dose([DosePoint(10, 10, 3.0), DosePoint(20, 20, 4.0)]))
    with pytest.raises(FitError, match="no readings"):
        fit_depth([DepthPoint(1.0, 1.0, ()), DepthPoint(2.0, 2.0, ())])


def test_the_repository_limits() -> None:
    limits = load_limits(LIMITS_FILE)
    assert [(p.volume_ul, p.max_systematic_error_pct, p.max_cv_pct) for p in limits.dose.points] \
        == [(10, 1.2, 0.8), (20, 1.0, 0.5), (50, 1.0, 0.4), (100, 0.8, 0.3)]
    assert limits.depth.tolerance_mm == 0.03
    assert limits.depth.points_mm == [1.0, 2.5, 4.0]
    assert limits.dose.replicates == 10


def test_a_volume_without_a_limit_is_not_allowed() -> None:
    with pytest.raises(LimitsError, match="not allowed"):
        load_limits(LIMITS_FILE).dose_limit(25.0)


@pytest.mark.parametrize(("text", "match"), [
    ("validity_days = 1\n[dose]\nreplicates = 10\npoints = []\n", "dose"),
    ("[[", "not valid TOML"),
    (LIMITS_FILE.read_text(encoding="utf-8") + "\nsurprise = 1\n", "surprise"),
])
def test_malformed_limits(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "limits.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LimitsError, match=match):
        load_limits(path)
    with pytest.raises(LimitsError, match="cannot read"):
        load_limits(tmp_path / "missing.toml")


ENV = Environment(20.0, 1013.25, 50.0)
Z20 = 1.0028511692201583


@pytest.mark.parametrize(("mean_ul", "passed"), [(20.19, True), (20.21, False), (19.81, True),
                                                  (19.79, False)])
def test_dose_verdict_at_the_systematic_limit(mean_ul: float, passed: bool) -> None:
    masses = [mean_ul / Z20 + d for d in (-0.01, 0.0, 0.01)]  # CV ≈ 0.05 %
    verdict = verify_dose(evaluate_test_volume(20.0, masses, ENV), load_limits(LIMITS_FILE))
    assert verdict.passed is passed
    assert verdict.max_systematic_error_pct == 1.0


def test_dose_verdict_fails_on_cv_alone() -> None:
    masses = [19.85, 20.15, 19.9, 20.1]  # mean on target, CV ≈ 0.7 % > 0.5 %
    verdict = verify_dose(evaluate_test_volume(20.0, [m / Z20 for m in masses], ENV),
                          load_limits(LIMITS_FILE))
    assert abs(verdict.systematic_error_pct) < 0.01
    assert not verdict.passed


@pytest.mark.parametrize(("readings", "passed"), [((2.52, 2.53), True), ((2.53, 2.535), False),
                                                  ((2.471, 2.471), True), ((2.46, 2.47), False)])
def test_depth_verdict(readings: tuple[float, ...], passed: bool) -> None:
    verdict = verify_depth(DepthPoint(2.5, 2.5, readings), load_limits(LIMITS_FILE))
    assert verdict.passed is passed
