#!/usr/bin/env python3
"""Independent check values for the reference data sets in this folder.

Written from the formulas in DOMAIN.md / ISO 8655-6 / ISO/TR 20461 and deliberately NOT
importing mesodrive: a second, separate implementation (stdlib only; derivatives of Z by
central differences where the package uses analytic ones). It reads every `dose_*.json`
here and prints the expected results; with `--write` it stores them in each file's
"expected" block, formatted to the precision the test compares at.

    python3 calibration/reference/compute_expected.py [--write]
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RHO_B = 8000.0  # kg/m³, steel reference weights


def rho_water(t: float) -> float:  # Tanaka et al. 2001, kg/m³
    a1, a2, a3, a4, a5 = -3.983035, 301.797, 522528.9, 69.34881, 999.974950
    return a5 * (1 - (t + a1) ** 2 * (t + a2) / (a3 * (t + a4)))


def rho_air(p_hpa: float, h_pct: float, t: float) -> float:  # OIML R 111 approximation
    return (0.34848 * p_hpa - 0.009 * h_pct * math.exp(0.061 * t)) / (273.15 + t)


def z_ul_per_mg(t_water: float, p: float, h: float, t_air: float) -> float:
    ra = rho_air(p, h, t_air)
    return (1 - ra / RHO_B) / (rho_water(t_water) - ra) * 1000.0  # m³/kg → µL/mg


def expected(data: dict) -> dict:
    env = data["environment"]
    tw, p, h = env["water_temperature_c"], env["air_pressure_hpa"], env["relative_humidity_pct"]
    ta = env.get("air_temperature_c") or tw
    z = z_ul_per_mg(tw, p, h, ta)
    blank = data.get("blank")
    e = blank["mass_loss_mg"] / blank["duration_s"] * data["cycle_time_s"] if blank else 0.0
    masses = data["masses_mg"]
    n = len(masses)
    volumes = [(m + e) * z for m in masses]
    mean = sum(volumes) / n
    s = math.sqrt(sum((v - mean) ** 2 for v in volumes) / (n - 1))
    v0 = data["nominal_ul"]
    m_bar = sum(masses) / n + e

    u = data["uncertainties"]
    step = {"t": 1e-3, "p": 1e-2, "h": 1e-2}
    dz_dt = (z_ul_per_mg(tw + step["t"], p, h, ta) - z_ul_per_mg(tw - step["t"], p, h, ta)) / (2 * step["t"])
    dz_dp = (z_ul_per_mg(tw, p + step["p"], h, ta) - z_ul_per_mg(tw, p - step["p"], h, ta)) / (2 * step["p"])
    dz_dh = (z_ul_per_mg(tw, p, h + step["h"], ta) - z_ul_per_mg(tw, p, h - step["h"], ta)) / (2 * step["h"])
    comps = [
        s / math.sqrt(n),
        z * u["balance_repeatability_mg"],
        z * math.sqrt(2) * u["readability_mg"] / 2 / math.sqrt(3),
        abs(m_bar * dz_dt) * u["water_temperature_c"],
        abs(m_bar * dz_dp) * u["air_pressure_hpa"],
        abs(m_bar * dz_dh) * u["relative_humidity_pct"],
        z * e / math.sqrt(3),
    ]
    uc = math.sqrt(sum(c * c for c in comps))
    return {
        "z_ul_per_mg": f"{z:.6f}",
        "evaporation_per_replicate_mg": f"{e:.5f}",
        "volumes_ul": [f"{v:.4f}" for v in volumes],
        "mean_ul": f"{mean:.4f}",
        "systematic_error_ul": f"{mean - v0:.4f}",
        "systematic_error_pct": f"{100 * (mean - v0) / v0:.3f}",
        "random_error_ul": f"{s:.4f}",
        "cv_pct": f"{100 * s / mean:.3f}",
        "combined_uncertainty_ul": f"{uc:.5f}",
        "expanded_uncertainty_ul": f"{2 * uc:.4f}",
        "expanded_uncertainty_pct": f"{100 * 2 * uc / mean:.3f}",
    }


def main() -> None:
    write = "--write" in sys.argv[1:]
    for path in sorted(HERE.glob("dose_*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        data["expected"] = expected(data)
        print(path.name, json.dumps(data["expected"]))
        if write:
            path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
