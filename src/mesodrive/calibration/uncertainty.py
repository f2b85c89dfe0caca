"""GUM uncertainty budget of the mean volume of one test volume (ISO/TR 20461 components).

Standard uncertainties, in µL on V̄ = m̄·Z (m̄ the mean corrected mass):

| component | u(V̄) |
|---|---|
| replicates (standard deviation of the mean) | s / √n |
| balance repeatability (as the balance's certificate states it, σ_bal) | Z · σ_bal |
| balance readability d: each net mass is a difference of two readings, each rounded: rectangular ½ digit | Z · √2 · (d/2)/√3 |
| water temperature (thermometer u_t) | m̄ · ∂Z/∂t · u_t |
| air pressure (barometer u_p) | m̄ · ∂Z/∂p · u_p |
| relative humidity (hygrometer u_h) | m̄ · ∂Z/∂h · u_h |
| evaporation: the correction e is applied; its uncertainty is rectangular over ±e | Z · e/√3 |

The balance terms are those of one weighing and are not divided by √n (their random part is
already in s; keeping them whole is the conservative choice ISO/TR 20461 makes).
u_c = √Σu², expanded U = k·u_c with k = 2 (≈ 95 %).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from mesodrive.calibration.errors import CalibrationInputError
from mesodrive.calibration.gravimetric import GravimetricResult

__all__ = ["COVERAGE_FACTOR", "MeasurementUncertainties", "UncertaintyBudget", "budget"]

COVERAGE_FACTOR = 2.0


@dataclass(frozen=True, slots=True)
class MeasurementUncertainties:
    """Standard uncertainties of the instruments used (from their certificates)."""

    readability_mg: float  # one digit of the balance (0.01 mg for 10–100 µL)
    balance_repeatability_mg: float  # σ of one weighing
    water_temperature_c: float = 0.2
    air_pressure_hpa: float = 1.0
    relative_humidity_pct: float = 5.0

    def __post_init__(self) -> None:
        for name in ("readability_mg", "balance_repeatability_mg", "water_temperature_c",
                     "air_pressure_hpa", "relative_humidity_pct"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise CalibrationInputError(f"uncertainty of {name} = {value} must be ≥ 0")
        if self.readability_mg <= 0:
            raise CalibrationInputError("the balance readability must be > 0")


@dataclass(frozen=True, slots=True)
class UncertaintyBudget:
    nominal_ul: float
    components_ul: dict[str, float] = field(default_factory=dict)  # name → u(V̄), µL
    combined_ul: float = 0.0
    coverage_factor: float = COVERAGE_FACTOR
    expanded_ul: float = 0.0
    expanded_pct: float = 0.0


def budget(result: GravimetricResult, u: MeasurementUncertainties) -> UncertaintyBudget:
    z = result.z
    m_bar = result.mean_mass_mg
    components = {
        "replicates (s/√n)": result.random_error_ul / math.sqrt(result.n),
        "balance repeatability": z.z_ul_per_mg * u.balance_repeatability_mg,
        "balance readability": z.z_ul_per_mg * math.sqrt(2.0) * (u.readability_mg / 2) / math.sqrt(3),
        "water temperature": abs(m_bar * z.dz_dwater_temperature) * u.water_temperature_c,
        "air pressure": abs(m_bar * z.dz_dpressure) * u.air_pressure_hpa,
        "relative humidity": abs(m_bar * z.dz_dhumidity) * u.relative_humidity_pct,
        "evaporation": z.z_ul_per_mg * abs(result.evaporation_per_replicate_mg) / math.sqrt(3),
    }
    combined = math.sqrt(sum(c * c for c in components.values()))
    expanded = COVERAGE_FACTOR * combined
    return UncertaintyBudget(
        nominal_ul=result.nominal_ul,
        components_ul=components,
        combined_ul=combined,
        expanded_ul=expanded,
        expanded_pct=100.0 * expanded / result.mean_ul,
    )
