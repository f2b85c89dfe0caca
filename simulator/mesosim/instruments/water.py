"""Water density and the ISO 8655-6 Z factor, so the simulated balance weighs water the way
a real one does and `V = m * Z` recovers the true dispensed volume.

* Water density: Tanaka et al. (2001), Metrologia 38, 301-309 — the CIPM formula for
  air-free standard mean ocean water at 101.325 kPa (the table ISO 8655-6 and ISO 4787 rest
  on). 0.998207 g/mL at 20 °C.
* A balance shows *conventional mass*: it is adjusted with steel reference weights
  (8.0 g/mL) in air (about 0.0012 g/mL), so a volume V of water reads
  `V * (rho_w - rho_air) / (1 - rho_air / rho_ref)`, i.e. `V / Z`. Including this air
  buoyancy term reproduces DOMAIN.md's Z table to its 4 decimals (20 °C 1.0029 ...
  25 °C 1.0040); using the bare density would leave a spurious +0.11 % "gain" for the
  calibration to find.
"""

from __future__ import annotations

__all__ = [
    "AIR_DENSITY_G_PER_ML",
    "REFERENCE_WEIGHT_DENSITY_G_PER_ML",
    "apparent_mass_g_per_nl",
    "water_density_g_per_ml",
    "z_factor_ul_per_mg",
]

AIR_DENSITY_G_PER_ML = 0.0012
REFERENCE_WEIGHT_DENSITY_G_PER_ML = 8.0

# Tanaka et al. 2001, equation (1): rho = a5 * (1 - (t + a1)^2 (t + a2) / (a3 (t + a4))).
_A1 = -3.983035  # °C
_A2 = 301.797  # °C
_A3 = 522528.9  # °C²
_A4 = 69.34881  # °C
_A5 = 0.99997495  # g/mL


def water_density_g_per_ml(temperature_c: float) -> float:
    """Density of air-free pure water at `temperature_c` (valid 0-40 °C), g/mL."""
    t = temperature_c
    return _A5 * (1.0 - (t + _A1) ** 2 * (t + _A2) / (_A3 * (t + _A4)))


def z_factor_ul_per_mg(
    temperature_c: float,
    air_density_g_per_ml: float = AIR_DENSITY_G_PER_ML,
    reference_density_g_per_ml: float = REFERENCE_WEIGHT_DENSITY_G_PER_ML,
) -> float:
    """ISO 8655-6 conversion factor Z (µL/mg): volume = balance reading × Z."""
    rho_w = water_density_g_per_ml(temperature_c)
    return (1.0 - air_density_g_per_ml / reference_density_g_per_ml) / (
        rho_w - air_density_g_per_ml
    )


def apparent_mass_g_per_nl(
    temperature_c: float,
    air_density_g_per_ml: float = AIR_DENSITY_G_PER_ML,
    reference_density_g_per_ml: float = REFERENCE_WEIGHT_DENSITY_G_PER_ML,
) -> float:
    """What the balance shows, in grams, per nanolitre of water added (= 1e-6 / Z)."""
    return 1e-6 / z_factor_ul_per_mg(
        temperature_c, air_density_g_per_ml, reference_density_g_per_ml
    )
