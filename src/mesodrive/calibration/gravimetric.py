"""ISO 8655-6 gravimetric evaluation of one test volume.

    Vᵢ = (mᵢ + e) · Z          mᵢ net mass of replicate i (mg), e evaporation loss per
                               replicate (mg, from a blank), Z in µL/mg
    V̄ = mean Vᵢ;  e_s = V̄ − V₀ (and 100·e_s/V₀ %);  s = sample standard deviation;
    CV = 100·s/V̄

Masses are milligrams and volumes microlitres throughout (the balance client converts).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from mesodrive.calibration.density import ZFactor, z_factor
from mesodrive.calibration.environment import Environment
from mesodrive.calibration.errors import CalibrationInputError, OutOfRangeValue

__all__ = ["EvaporationBlank", "GravimetricResult", "evaluate_test_volume"]


@dataclass(frozen=True, slots=True)
class EvaporationBlank:
    """A blank: the vessel, handled like a replicate but with nothing dispensed, lost
    `mass_loss_mg` in `duration_s` (ISO 8655-6, below ~50 µL). Each replicate is then
    corrected by the loss over its own cycle time."""

    mass_loss_mg: float
    duration_s: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.duration_s) and self.duration_s > 0):
            raise CalibrationInputError(f"evaporation blank: duration {self.duration_s} s must be > 0")
        if not (math.isfinite(self.mass_loss_mg) and self.mass_loss_mg >= 0):
            raise CalibrationInputError(
                f"evaporation blank: mass loss {self.mass_loss_mg} mg must be ≥ 0 (a gain is "
                "not evaporation: check for condensation or a drifting balance)"
            )

    @property
    def rate_mg_per_s(self) -> float:
        return self.mass_loss_mg / self.duration_s


@dataclass(frozen=True, slots=True)
class GravimetricResult:
    nominal_ul: float
    masses_mg: tuple[float, ...]
    evaporation_per_replicate_mg: float
    z: ZFactor
    volumes_ul: tuple[float, ...]
    mean_ul: float
    systematic_error_ul: float
    systematic_error_pct: float
    random_error_ul: float  # s, the sample standard deviation
    cv_pct: float

    @property
    def n(self) -> int:
        return len(self.volumes_ul)

    @property
    def mean_mass_mg(self) -> float:
        return statistics.fmean(self.masses_mg) + self.evaporation_per_replicate_mg


def evaluate_test_volume(
    nominal_ul: float,
    masses_mg: Sequence[float],
    environment: Environment,
    *,
    blank: EvaporationBlank | None = None,
    cycle_time_s: float = 0.0,
) -> GravimetricResult:
    """The ISO 8655-6 figures for one test volume from its replicate masses."""
    if not (math.isfinite(nominal_ul) and nominal_ul > 0):
        raise OutOfRangeValue(f"test volume {nominal_ul} µL must be positive")
    masses = tuple(float(m) for m in masses_mg)
    if len(masses) < 2:
        raise CalibrationInputError(
            f"{nominal_ul:g} µL: {len(masses)} replicate(s); at least 2 are needed for s "
            "(ISO 8655-6 asks for 10)"
        )
    for i, m in enumerate(masses, 1):
        if not math.isfinite(m) or m <= 0:
            raise OutOfRangeValue(
                f"{nominal_ul:g} µL, replicate {i}: mass {m} mg is not positive (nothing "
                "dispensed, or the balance was re-zeroed between readings?)"
            )
    if not (math.isfinite(cycle_time_s) and cycle_time_s >= 0):
        raise CalibrationInputError(f"cycle time {cycle_time_s} s must be ≥ 0")
    evaporation = blank.rate_mg_per_s * cycle_time_s if blank is not None else 0.0
    z = z_factor(environment)
    volumes = tuple((m + evaporation) * z.z_ul_per_mg for m in masses)
    mean = statistics.fmean(volumes)
    s = statistics.stdev(volumes)
    return GravimetricResult(
        nominal_ul=nominal_ul,
        masses_mg=masses,
        evaporation_per_replicate_mg=evaporation,
        z=z,
        volumes_ul=volumes,
        mean_ul=mean,
        systematic_error_ul=mean - nominal_ul,
        systematic_error_pct=100.0 * (mean - nominal_ul) / nominal_ul,
        random_error_ul=s,
        cv_pct=100.0 * s / mean,
    )
