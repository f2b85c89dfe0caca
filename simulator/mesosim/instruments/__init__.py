"""Simulated calibration instruments: an MT-SICS balance and a digital depth gauge.

Both are `ByteDevice`s (bytes and a simulated clock in, bytes out — see
`mesosim.transports.device`), so every transport that serves the simulated injector serves
them too. Each takes a *source* callable that reads the truth from the injector simulator,
e.g. ``Balance(lambda: sim.true_dispensed_nl)`` and ``DepthGauge(lambda: sim.true_needle_um)``.
See README.md in this directory for the protocols.
"""

from mesosim.instruments.balance import COMMAND_LEVELS, Balance
from mesosim.instruments.depth_gauge import DepthGauge
from mesosim.instruments.water import (
    apparent_mass_g_per_nl,
    water_density_g_per_ml,
    z_factor_ul_per_mg,
)

__all__ = [
    "COMMAND_LEVELS",
    "Balance",
    "DepthGauge",
    "apparent_mass_g_per_nl",
    "water_density_g_per_ml",
    "z_factor_ul_per_mg",
]
