"""The calibration rig (`mesosim.rig`): a simulated injector served together with a balance and
a depth gauge that measure its truth — in-process, over real ptys, and from `mesodrive sim`.

The volume and depth checks are what a calibration tool does: weigh the shots over MT-SICS
(V = m · Z, ISO 8655-6) and read the needle with the gauge, and find the hidden errors."""

from __future__ import annotations

import signal
import threading
import time
from typing import Any

import pytest
import serial

pytest.importorskip("mesosim.firmware")

from mesosim import SimConfig
from mesosim.instruments import Balance, z_factor_ul_per_mg
from mesosim.rig import CalibrationRig, RigPort, Ticking
from mesosim.transports import WarpRunner

from mesodrive.cli import main
from mesodrive.driver.injector import Injector
from mesodrive.driver.shots import ShotRequest, ShotState
from mesodrive.driver.transports import Transport
from tests.sim.test_sim_cli import sim_process, stop
from tests.sim.test_transports_e2e import check_handshake, serial_client

IDEAL = "depth_offset_um=0&depth_scale=1&volume_gain=1&volume_offset_nl=0"


# -- helpers: what a calibration tool sends ----------------------------------------------------


def ask(port: Any, command: bytes, timeout: float = 5.0) -> str:
    """One command line, one reply line (CR LF ended)."""
    port.timeout = timeout
    port.write(command)
    line = bytes(port.readline())
    assert line.endswith(b"\r\n"), (command, line)
    return line.decode("latin-1")[:-2]


def weigh(balance: Any) -> float:
    """MT-SICS `S`: the next stable net weight, in grams."""
    reply = ask(balance, b"S\r\n", timeout=12.0)
    ident, status, value, unit = reply.split()
    assert (ident, status, unit) == ("S", "S", "g"), reply
    return float(value)


def gauge_um(gauge: Any) -> float:
    reply = ask(gauge, b"?\r")
    value, unit = reply.split()
    assert unit == "mm", reply
    return float(value) * 1000.0


class PortTransport(Transport):
    """The driver over a pyserial-compatible port object (an in-process rig port)."""

    def __init__(self, port: Any) -> None:
        self._port = port
        self.url = str(port.name)

    def write(self, data: bytes) -> None:
        self._port.write(data)

    def read(self, max_bytes: int, timeout: float) -> bytes:
        self._port.timeout = timeout
        first = bytes(self._port.read(1))
        waiting = self._port.in_waiting if first else 0
        return first + (bytes(self._port.read(min(waiting, max_bytes - 1))) if waiting else b"")

    def close(self) -> None:
        self._port.close()


# -- the pieces --------------------------------------------------------------------------------


def test_ticking_dates_a_drop_to_the_tick_it_lands_in() -> None:
    """Without Ticking, an idle balance would see the drop only when next spoken to."""
    dispensed = [0.0]
    balance = Balance(lambda: dispensed[0], seed=1)
    runner = WarpRunner(Ticking(balance, 0.05))
    runner.run_until(1.0)
    dispensed[0] = 20_000.0  # 20 µL lands between 1.00 and 1.05 s
    runner.run_until(2.5)
    assert not balance.is_stable()  # settling (1.5 s) started at 1.05 s …
    runner.run_until(2.6)
    assert balance.is_stable()  # … so it is over by 2.55 s
    assert Ticking(balance, 0.05).next_wakeup() == pytest.approx(2.65)
    with pytest.raises(ValueError):
        Ticking(balance, 0)


def test_in_process_ports_are_pyserial_ports() -> None:
    with CalibrationRig(SimConfig.from_query(f"seed=3&{IDEAL}")) as rig:
        assert rig.names == ("injector", "balance", "gauge")
        assert rig.address("balance") is None  # in-process: no OS path
        balance, gauge = rig.balance_port, rig.gauge_port
        assert isinstance(balance, RigPort) and isinstance(balance, serial.SerialBase)
        assert ask(balance, b"I4\r\n") == 'I4 A "B220000001"'
        assert weigh(balance) == pytest.approx(10.0, abs=1e-4)  # the empty vessel
        assert ask(gauge, b"I\r").startswith("MESOSIM-DG ")
        # An ideal injector parks its needle 1.5 mm behind the skin plane.
        assert gauge_um(gauge) == pytest.approx(-1500.0, abs=5.0)
        assert rig.truth().needle_um == -1500.0

        with pytest.raises(serial.SerialException, match="busy"):
            rig.port("balance")  # one client at a time, like a serial device
        balance.close()
        with rig.port("balance", timeout=1.0) as again:  # and free again once closed
            assert ask(again, b"I4\r\n") == 'I4 A "B220000001"'
        check_handshake(serial_client(rig.injector_port).handshake(), "SIM-0001")
        with pytest.raises(KeyError, match="nothing"):
            rig.address("nothing")


def test_close_stops_every_thread_and_port() -> None:
    before = set(threading.enumerate())
    rig = CalibrationRig(SimConfig(seed=4), injector="pty", instruments="pty")
    paths = [rig.address(name) for name in rig.names]
    assert all(p is not None and p.startswith("/dev/") for p in paths)
    port = rig.gauge_port
    assert rig.alive
    rig.close()
    rig.close()  # idempotent
    assert not rig.alive and not port.is_open
    assert not [t for t in set(threading.enumerate()) - before if t.is_alive()]
    with pytest.raises(serial.SerialException):
        rig.port("balance")
    # With the injector stopped, its truth is read directly (no thread to ask).
    assert rig.balance is not None and rig.balance.true_load_g() == pytest.approx(10.0)


def test_instruments_keep_the_injectors_pace() -> None:
    if "speed" not in SimConfig.model_fields:
        pytest.skip("this SimConfig has no time-warped real time")
    with CalibrationRig(SimConfig.from_query("seed=5&speed=10")) as rig:
        t0, sim0 = time.monotonic(), rig.truth().time
        time.sleep(0.2)
        injector_now = rig.truth().time
        wall = time.monotonic() - t0  # however long a busy machine really slept
        assert injector_now - sim0 == pytest.approx(10 * wall, abs=0.5)
        for name in rig.names:
            assert rig.runner(name).speed == 10
        assert rig.call_balance(lambda b: b.now) == pytest.approx(injector_now, abs=0.3)


def test_bad_rig_options() -> None:
    with pytest.raises(ValueError, match="tcp"):
        CalibrationRig(instruments="tcp")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="tick_s"):
        CalibrationRig(tick_s=0.5)


# -- calibration through the rig ---------------------------------------------------------------


def test_the_balance_weighs_what_truly_left_the_needle() -> None:
    """Three 10 µL shots weighed over MT-SICS on a pty: the mass is the *true* volume / Z, so
    the hidden gain and offset show up (30.54 µL, not the commanded 30). The gauge, on its
    own pty, reads the parked needle where it truly is."""
    config = SimConfig(seed=11)
    with CalibrationRig(config, injector="pty", instruments="pty") as rig:
        assert rig.balance is not None
        balance, gauge = rig.balance_port, rig.gauge_port
        path = rig.address("injector")
        assert path is not None
        with Injector.connect(path) as inj:
            inj.home()
            parked = gauge_um(gauge)
            assert parked == pytest.approx(rig.truth().needle_um, abs=5.0)
            # ≈ −park, shifted by the hidden depth scale and offset: −1500·0.955 + 120.
            assert parked == pytest.approx(-config.park_um, abs=250.0)
            assert parked == pytest.approx(-1312.5, abs=5.0)

            inj.prime(volume_ul=5.0, flow_ul_s=50.0)
            time.sleep(0.2)  # the balance sees a drop within one tick (50 ms)
            m0 = weigh(balance)
            t0 = rig.call_balance(lambda b: b.now)
            v0 = rig.truth().dispensed_nl

            inj.arm(1)
            start = inj.device_now() + 0.2
            for i in range(3):
                inj.queue_shot(ShotRequest(index=i, depth_mm=2.0, volume_ul=10.0,
                                           flow_ul_s=50.0, speed_mm_s=50.0,
                                           fire_at=start + i * 0.4))  # fmt: skip
            states = [inj.wait_shot(1, i, timeout=5).state for i in range(3)]
            assert states == [ShotState.DONE] * 3
            inj.disarm()
            time.sleep(0.2)
            m1 = weigh(balance)  # waits until the balance has settled
            t1 = rig.call_balance(lambda b: b.now)
            v1 = rig.truth().dispensed_nl

    evaporated_g = rig.balance.evaporation_ug_per_s * 1e-6 * (t1 - t0)
    z = z_factor_ul_per_mg(rig.balance.temperature_c)  # µL/mg, ISO 8655-6
    weighed_nl = (m1 - m0 + evaporated_g) * 1e3 * z * 1e3
    true_nl = v1 - v0
    commanded_nl = 3 * 10_000
    # Two readings, 0.02 mg noise each, 0.01 mg digits: within ~0.15 mg ≈ 150 nL.
    assert weighed_nl == pytest.approx(true_nl, abs=150.0)
    assert true_nl == pytest.approx(3 * (10_000 * 1.03 - 120), rel=0.01)  # the hidden errors
    assert abs(weighed_nl - commanded_nl) > 300.0  # the calibration can discover them


def test_the_gauge_follows_the_needle_into_the_skin() -> None:
    """In-process ports: during a shot's dwell the gauge reads the needle's true depth
    (2 mm commanded reaches ≈ 2.03 mm), then the parked position again."""
    with CalibrationRig(SimConfig(seed=12), balance=False) as rig:
        assert rig.names == ("injector", "gauge")
        gauge = rig.gauge_port
        with Injector.connect(PortTransport(rig.port("injector"))) as inj:
            inj.home()
            inj.arm(1)
            inj.queue_shot(ShotRequest(index=0, depth_mm=2.0, volume_ul=2.0, flow_ul_s=20.0,
                                       speed_mm_s=50.0, dwell_s=1.0,
                                       fire_at=inj.device_now() + 0.1))  # fmt: skip
            deadline = time.monotonic() + 5.0
            while rig.truth().needle_um < 1500.0:
                assert time.monotonic() < deadline, "the needle never went in"
                time.sleep(0.01)
            time.sleep(0.2)  # insertion done; dispensing (0.1 s), then 1 s of dwell
            inside = rig.truth().needle_um
            reading = gauge_um(gauge)
            assert rig.truth().needle_um == inside  # the needle stood still meanwhile
            assert reading == pytest.approx(inside, abs=5.0)
            true_depth = rig.call(lambda d: d.executed_log[-1].true_depth_um)
            assert reading == pytest.approx(true_depth, abs=5.0)
            assert reading == pytest.approx(2000 * 0.955 + 120, abs=40.0)  # 8 µm sd per shot
            assert inj.wait_shot(1, 0, timeout=5).state is ShotState.DONE
            inj.disarm()
            parked = gauge_um(gauge)
            assert parked == pytest.approx(rig.truth().needle_um, abs=5.0)
            assert parked < 0


# -- mesodrive sim ---------------------------------------------------------------------------


def test_instrument_options_still_need_pty_or_tcp() -> None:
    with pytest.raises(SystemExit) as info:
        main(["sim", "--balance-pty", "--gauge-pty"])
    assert info.value.code == 2


@pytest.mark.slow
def test_sim_serves_balance_and_gauge_ptys() -> None:
    args = ("--pty", "--balance-pty", "--gauge-pty", "--seed", "4", "--config", "serial=RIG-4")
    with sim_process(*args) as (proc, injector):
        assert proc.stdout is not None
        balance_line = proc.stdout.readline().split()
        gauge_line = proc.stdout.readline().split()
        assert injector.startswith("/dev/")
        assert balance_line[0] == "balance" and balance_line[1].startswith("/dev/")
        assert gauge_line[0] == "gauge" and gauge_line[1].startswith("/dev/")
        assert len({injector, balance_line[1], gauge_line[1]}) == 3
        with serial.Serial(balance_line[1], timeout=2.0) as balance:
            assert ask(balance, b"I4\r\n") == 'I4 A "B220000001"'
            assert weigh(balance) == pytest.approx(10.0, abs=1e-4)
        with serial.Serial(gauge_line[1], timeout=2.0) as gauge:
            assert gauge_um(gauge) == pytest.approx(-1312.5, abs=5.0)  # −1500 · 0.955 + 120
        with serial.Serial(injector, timeout=0.5) as port:
            check_handshake(serial_client(port).handshake(), "RIG-4")
        assert stop(proc, signal.SIGTERM) == 0


@pytest.mark.slow
def test_sim_serves_a_gauge_pty_next_to_tcp() -> None:
    with sim_process("--tcp", "127.0.0.1:0", "--gauge-pty") as (proc, url):
        assert proc.stdout is not None
        assert url.startswith("socket://127.0.0.1:")
        name, path = proc.stdout.readline().split()
        assert name == "gauge"
        with serial.Serial(path, timeout=2.0) as gauge:
            assert ask(gauge, b"U\r") == "mm"
        assert stop(proc) == 0
