"""The driver over every real transport: a pty and TCP to `mesodrive sim` in another process,
and USB through the simulator's pyusb backend. Plus the dead-man trip when the host goes quiet."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from mesosim.transports.shotlog import read_shot_log

from mesodrive.driver.injector import Injector
from mesodrive.driver.shots import ShotState
from mesodrive.driver.transports.usb import UsbTransport
from mesodrive.protocol.messages import DeviceState, Fault
from tests.driver.conftest import Journal, fast_shot, ready
from tests.sim.test_sim_cli import sim_process


def _fire_three(inj: Injector, session: int = 1) -> list[ShotState]:
    ready(inj, session)
    start = inj.device_now() + 0.25
    for i in range(3):
        inj.queue_shot(fast_shot(i, start + i * 0.25))
    states = [inj.wait_shot(session, i, timeout=5).state for i in range(3)]
    inj.disarm()
    return states


@pytest.mark.slow
def test_over_a_real_pty_with_the_shot_log_as_truth(tmp_path: Path) -> None:
    log = tmp_path / "shots.jsonl"
    with sim_process("--pty", "--seed", "5", "--shot-log", str(log)) as (proc, path):
        journal = Journal()
        with Injector.connect(path, journal=journal) as inj:
            assert _fire_three(inj) == [ShotState.DONE] * 3
            time.sleep(0.3)
        proc.terminate()
        proc.wait(10)
    lines = read_shot_log(log)
    assert sorted(line["index"] for line in lines) == [0, 1, 2]


@pytest.mark.slow
def test_over_tcp() -> None:
    with sim_process("--tcp", "127.0.0.1:0", "--seed", "6") as (_, url):
        assert url.startswith("socket://127.0.0.1:")
        with Injector.connect(url) as inj:
            assert _fire_three(inj) == [ShotState.DONE] * 3


def test_over_the_pyusb_backend() -> None:
    from mesosim.config import SimConfig
    from mesosim.transports.usb import backend

    be = backend(SimConfig(seed=7, serial="USB-7", realtime=True))
    try:
        transport = UsbTransport("usb://1209:4D44/USB-7", backend=be)
        with Injector.connect(transport) as inj:
            assert inj.identity is not None and inj.identity.serial == "USB-7"
            assert _fire_three(inj) == [ShotState.DONE] * 3
    finally:
        be.close()


@pytest.mark.slow
def test_dead_man_trips_when_the_host_stops_sending() -> None:
    with sim_process("--pty", "--seed", "8") as (_, path):
        inj = Injector.connect(path)
        ready(inj)
        inj.close()  # the host vanishes while armed: no disarm, no more heartbeats
        time.sleep(0.6)
        with Injector.connect(path) as again:
            status = again.status()
            assert status.state == DeviceState.FAULT
            assert status.faults & (1 << (Fault.LINK_LOST - 1))
            assert status.needle_mm <= 0  # retracted


def test_heartbeats_keep_an_idle_armed_session_alive(connect) -> None:  # type: ignore[no-untyped-def]
    inj = connect()
    ready(inj)
    time.sleep(0.8)  # > 3 × the dead-man timeout with nothing to say but heartbeats
    assert inj.status().state == DeviceState.ARMED
