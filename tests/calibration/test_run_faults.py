"""Bad input and bench accidents during a dose calibration: each stops it with one typed,
clear error, and nothing is returned (so no profile and no certificate can be written):
the balance unplugged mid-run, an overload, readings that never settle, a negative net
mass, and the water's temperature drifting more than `limits.toml` allows."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from mesosim.rig import CalibrationRig
from serial.serialutil import SerialException

from mesodrive.calibration.balance import MtSicsBalance
from mesodrive.calibration.dose_run import DoseRunSettings
from mesodrive.calibration.environment import Environment, check_water_temperature_drift
from mesodrive.calibration.errors import (
    BalanceLinkError,
    BalanceOverload,
    BalanceUnstable,
    MissingEnvironmentValue,
    OutOfRangeValue,
    RunError,
    TemperatureDrift,
)
from mesodrive.calibration.limits import load_limits
from mesodrive.calibration.procedure import DoseCalibration, calibrate_dose
from mesodrive.calibration.progress import RunProgress
from mesodrive.driver.calibration_profile import IDENTITY
from tests.calibration.test_runs import (  # noqa: F401 - the fixture applies here too
    FAST,
    LIMITS,
    TB,
    connector,
    make_rig,
    quick_limits,
    quick_thread_switches,
)

ENV = Environment(20.0, 1013.25, 50.0)
SETTINGS = DoseRunSettings(volumes_ul=(10.0, 20.0), replicates=2, blank_s=0.0, land_s=0.3,
                           shot=FAST)


class Unpluggable:
    """A rig port that behaves like a USB serial adapter pulled out: after `unplug()`, every
    read and write raises pyserial's SerialException (as on a vanished /dev/ttyUSB0)."""

    def __init__(self, port: Any) -> None:
        self._port = port
        self.unplugged = False

    def unplug(self) -> None:
        self.unplugged = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._port, name)

    def write(self, data: bytes) -> int:
        if self.unplugged:
            raise SerialException("write failed: [Errno 5] Input/output error")
        return int(self._port.write(data))

    def read(self, size: int = 1) -> bytes:
        if self.unplugged:
            raise SerialException("device reports readiness to read but returned no data "
                                  "(device disconnected or multiple access on port?)")
        return bytes(self._port.read(size))


def calibrate(rig: CalibrationRig, balance: MtSicsBalance, *,
              at_step: Callable[[RunProgress], None] | None = None,
              water_after: float | None = 20.0) -> DoseCalibration:
    return calibrate_dose(connector(rig), balance, environment=ENV, limits=quick_limits(),
                          limits_source="t", technician="T", profile_before=IDENTITY,
                          water_temperature_after=lambda: water_after, settings=SETTINGS,
                          progress=at_step, clock=TB.now, sleep=TB.sleep)


def at(step: int, label: str, action: Callable[[], None]) -> Callable[[RunProgress], None]:
    """A progress observer that does `action` once, when the run reaches `step` of `label`."""
    done = itertools.count()

    def observe(p: RunProgress) -> None:
        if p.label == label and p.step == step and next(done) == 0:
            action()

    return observe


def test_the_balance_unplugged_mid_run_is_a_link_error() -> None:
    with make_rig() as rig:
        port = Unpluggable(rig.port("balance"))
        with MtSicsBalance(port) as balance, \
                pytest.raises(BalanceLinkError, match="Input/output error|disconnected"):
            calibrate(rig, balance, at_step=at(4, "as found", port.unplug))
        assert rig.call(lambda dev: dev.state.name) != "ARMED"


def test_an_overload_mid_run_names_it() -> None:
    with make_rig() as rig, MtSicsBalance(rig.port("balance")) as balance:
        def lean_on_the_pan() -> None:
            rig.call_balance(lambda b: setattr(b, "external_load_g", 500.0))

        with pytest.raises(BalanceOverload, match="overload"):
            calibrate(rig, balance, at_step=at(4, "as found", lean_on_the_pan))


def test_readings_that_never_settle_are_unstable_within_a_bound() -> None:
    # A draught: the balance never becomes stable and answers `S I` after its own timeout.
    with make_rig() as rig, MtSicsBalance(rig.port("balance"), busy_retries=1) as balance:
        def draught() -> None:
            def blow(b: Any) -> None:
                b.stability_timeout_s = 1.0
                b.settling_time_s = 1e6  # never at rest again

            rig.call_balance(blow)
            rig.call_balance(lambda b: setattr(b, "external_load_g", 0.001))

        with pytest.raises(BalanceUnstable, match="never became stable"):
            calibrate(rig, balance, at_step=at(4, "as found", draught))


def test_a_negative_net_mass_stops_the_pass_at_once() -> None:
    # Something lifts the pan a little (−50 mg) while replicate 2 is shot: its net mass is
    # negative. The run stops there (not after the volume), naming replicate and readings.
    with make_rig() as rig, MtSicsBalance(rig.port("balance")) as balance:
        def lift() -> None:
            rig.call_balance(lambda b: setattr(b, "external_load_g", -0.05))

        with pytest.raises(RunError, match=r"10 µL, replicate 2: the balance shows -\d+\.\d+ mg"):
            calibrate(rig, balance, at_step=at(4, "as found", lift))


def test_water_temperature_drift_beyond_the_limit_voids_the_calibration() -> None:
    with make_rig() as rig, MtSicsBalance(rig.port("balance")) as balance, \
            pytest.raises(TemperatureDrift, match=r"changed by \+0\.60 °C .* ±0\.5 °C"):
        calibrate(rig, balance, water_after=20.6)


def test_the_drift_check() -> None:
    limit = load_limits(LIMITS).dose.max_water_temperature_drift_c
    assert limit == 0.5
    assert check_water_temperature_drift(21.3, 21.7, limit) == pytest.approx(0.4)
    assert check_water_temperature_drift(21.3, 20.8, limit) == pytest.approx(-0.5)
    with pytest.raises(TemperatureDrift, match=r"-0\.51 °C"):
        check_water_temperature_drift(21.3, 20.79, limit)
    with pytest.raises(MissingEnvironmentValue, match="water_temperature_after_c is missing"):
        check_water_temperature_drift(21.3, None, limit)
    with pytest.raises(MissingEnvironmentValue, match="missing"):
        check_water_temperature_drift(21.3, float("nan"), limit)
    with pytest.raises(OutOfRangeValue, match=r"water_temperature_after_c = 31 °C is outside 15–30"):
        check_water_temperature_drift(29.8, 31.0, limit)


def test_a_limits_file_without_the_drift_limit_is_refused(tmp_path: Any) -> None:
    from mesodrive.calibration.errors import LimitsError

    text = LIMITS.read_text(encoding="utf-8").replace("max_water_temperature_drift_c = 0.5", "")
    path = tmp_path / "limits.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LimitsError, match="max_water_temperature_drift_c"):
        load_limits(path)


def test_depth_test_points_stay_in_the_treatment_range(tmp_path: Any) -> None:
    from mesodrive.calibration.errors import LimitsError

    text = LIMITS.read_text(encoding="utf-8").replace("points_mm = [1.0, 2.5, 4.0]",
                                                      "points_mm = [0.9, 2.5, 4.0]")
    path = tmp_path / "limits.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LimitsError, match=r"outside the 1–4 mm treatment range"):
        load_limits(path)
