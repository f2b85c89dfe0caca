"""The laboratory conditions of a gravimetric test, validated once, where they enter.

ISO 8655-6 asks for water and air at 15–30 °C, stable within ±0.5 °C during the test (the
technician reads the water before and after: `check_water_temperature_drift`, limit in
`calibration/limits.toml`); the air density approximation (OIML R 111) is used here between
600 and 1100 hPa and 0–100 % RH.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from mesodrive.calibration.errors import (
    CalibrationInputError,
    MissingEnvironmentValue,
    OutOfRangeValue,
    TemperatureDrift,
)

__all__ = ["TEMPERATURE_RANGE_C", "Environment", "check_water_temperature_drift"]

TEMPERATURE_RANGE_C = (15.0, 30.0)
PRESSURE_RANGE_HPA = (600.0, 1100.0)
HUMIDITY_RANGE_PCT = (0.0, 100.0)

_FIELDS = ("water_temperature_c", "air_pressure_hpa", "relative_humidity_pct")


@dataclass(frozen=True, slots=True)
class Environment:
    """Water temperature, air pressure, relative humidity and (if measured apart from the
    water) the air temperature; `air_temperature_c=None` means the same as the water."""

    water_temperature_c: float
    air_pressure_hpa: float
    relative_humidity_pct: float
    air_temperature_c: float | None = None

    def __post_init__(self) -> None:
        _check("water_temperature_c", self.water_temperature_c, TEMPERATURE_RANGE_C, "°C")
        _check("air_pressure_hpa", self.air_pressure_hpa, PRESSURE_RANGE_HPA, "hPa")
        _check("relative_humidity_pct", self.relative_humidity_pct, HUMIDITY_RANGE_PCT, "%")
        if self.air_temperature_c is not None:
            _check("air_temperature_c", self.air_temperature_c, TEMPERATURE_RANGE_C, "°C")

    @property
    def air_c(self) -> float:
        return self.water_temperature_c if self.air_temperature_c is None else self.air_temperature_c

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> Environment:
        """From a parsed file or form; names the first missing or unusable value."""
        unknown = sorted(set(values) - {*_FIELDS, "air_temperature_c"})
        if unknown:
            raise CalibrationInputError(f"unknown environment value(s): {', '.join(unknown)}")
        numbers: dict[str, float | None] = {}
        for name in (*_FIELDS, "air_temperature_c"):
            raw = values.get(name)
            if raw is None:
                if name in _FIELDS:
                    raise MissingEnvironmentValue(f"environment: {name} is missing")
                numbers[name] = None
                continue
            if isinstance(raw, bool) or not isinstance(raw, int | float):
                raise CalibrationInputError(f"environment: {name} = {raw!r} is not a number")
            numbers[name] = float(raw)
        return cls(
            water_temperature_c=_present(numbers["water_temperature_c"]),
            air_pressure_hpa=_present(numbers["air_pressure_hpa"]),
            relative_humidity_pct=_present(numbers["relative_humidity_pct"]),
            air_temperature_c=numbers["air_temperature_c"],
        )


def _present(value: float | None) -> float:
    assert value is not None  # checked above: required fields are never None here
    return value


def _check(name: str, value: float, bounds: tuple[float, float], unit: str) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or math.isnan(value):
        raise MissingEnvironmentValue(f"environment: {name} is missing (got {value!r})")
    lo, hi = bounds
    if not lo <= value <= hi:
        raise OutOfRangeValue(
            f"environment: {name} = {value:g} {unit} is outside {lo:g}–{hi:g} {unit}"
            + (" (ISO 8655-6 gravimetry needs 15–30 °C)" if unit == "°C" else "")
        )


def check_water_temperature_drift(before_c: float, after_c: float | None,
                                  max_drift_c: float) -> float:
    """The water temperature read after the test against the one read before it; returns the
    drift (after − before, °C). A missing or out-of-range reading is bad input; a drift beyond
    `max_drift_c` voids the test (`TemperatureDrift`)."""
    if after_c is None:
        raise MissingEnvironmentValue("environment: water_temperature_after_c is missing (read the "
                                      "water temperature again when the weighings are done)")
    _check("water_temperature_after_c", after_c, TEMPERATURE_RANGE_C, "°C")
    drift = after_c - before_c
    if abs(drift) > max_drift_c:
        raise TemperatureDrift(
            f"the water temperature changed by {drift:+.2f} °C during the test ({before_c:g} → "
            f"{after_c:g} °C); ISO 8655-6 allows ±{max_drift_c:g} °C: the results are void — let "
            "the water and the room settle, then calibrate again")
    return drift
