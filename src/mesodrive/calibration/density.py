"""Water density, air density and the ISO 8655-6 conversion factor Z, with the partial
derivatives of Z the uncertainty budget needs (analytic, so no step size to tune).

* Water: Tanaka et al. 2001 (Metrologia 38, 301), air-free SMOW at 101.325 kPa.
* Air: the OIML R 111 approximation ρA = (0.34848·p − 0.009·h·e^(0.061·t)) / (273.15 + t),
  p in hPa, h in % RH, t in °C, ρA in kg/m³.
* Z (ISO/TR 20461): Z = (1 − ρA/ρB) / (ρW − ρA), ρB = 8000 kg/m³ (the balance's steel
  reference weights). In m³/kg; × 1000 gives µL/mg, the unit used everywhere here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mesodrive.calibration.environment import Environment

__all__ = [
    "REFERENCE_WEIGHT_DENSITY_KG_M3",
    "ZFactor",
    "air_density_kg_m3",
    "water_density_kg_m3",
    "z_factor",
]

REFERENCE_WEIGHT_DENSITY_KG_M3 = 8000.0
_UL_PER_MG_PER_M3_PER_KG = 1000.0  # 1 m³/kg = 1e9 µL / 1e6 mg

_A1, _A2, _A3, _A4, _A5 = -3.983035, 301.797, 522528.9, 69.34881, 999.974950


def water_density_kg_m3(t_c: float) -> float:
    return _A5 * (1.0 - (t_c + _A1) ** 2 * (t_c + _A2) / (_A3 * (t_c + _A4)))


def _dwater_dt(t_c: float) -> float:
    x1, x2, x4 = t_c + _A1, t_c + _A2, t_c + _A4
    inner = (2.0 * x1 * x2 + x1 * x1) / x4 - x1 * x1 * x2 / (x4 * x4)
    return -_A5 / _A3 * inner


def air_density_kg_m3(pressure_hpa: float, humidity_pct: float, t_c: float) -> float:
    return (0.34848 * pressure_hpa - 0.009 * humidity_pct * math.exp(0.061 * t_c)) / (273.15 + t_c)


@dataclass(frozen=True, slots=True)
class ZFactor:
    """Z (µL/mg) for one environment, the densities behind it and its sensitivities."""

    z_ul_per_mg: float
    water_density_kg_m3: float
    air_density_kg_m3: float
    dz_dwater_temperature: float  # µL/mg per °C
    dz_dpressure: float  # µL/mg per hPa
    dz_dhumidity: float  # µL/mg per % RH


def z_factor(env: Environment) -> ZFactor:
    t_w, t_a = env.water_temperature_c, env.air_c
    rho_w = water_density_kg_m3(t_w)
    rho_a = air_density_kg_m3(env.air_pressure_hpa, env.relative_humidity_pct, t_a)
    rho_b = REFERENCE_WEIGHT_DENSITY_KG_M3
    k = _UL_PER_MG_PER_M3_PER_KG
    gap = rho_w - rho_a
    z = k * (1.0 - rho_a / rho_b) / gap
    dz_drho_w = -z / gap
    dz_drho_a = k * (1.0 - rho_w / rho_b) / (gap * gap)
    return ZFactor(
        z_ul_per_mg=z,
        water_density_kg_m3=rho_w,
        air_density_kg_m3=rho_a,
        dz_dwater_temperature=dz_drho_w * _dwater_dt(t_w),
        dz_dpressure=dz_drho_a * 0.34848 / (273.15 + t_a),
        dz_dhumidity=dz_drho_a * -0.009 * math.exp(0.061 * t_a) / (273.15 + t_a),
    )
