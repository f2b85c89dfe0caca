"""Time-warped runs: the simulator's runner and the host's Timebase both at K× real time; and
what made long warped runs lose the link, each shown without measuring time (issue 13)."""

from __future__ import annotations

import gc
import sys
import threading
import time
from pathlib import Path

import pytest
from mesosim.transports.runner import RealtimeRunner

from mesodrive.controller.device_limits import device_limits
from mesodrive.controller.engine import RunEngine
from mesodrive.controller.run_events import RunStateChanged
from mesodrive.controller.run_gc import HELD
from mesodrive.controller.states import RunState
from mesodrive.driver.channel import HEARTBEAT_EVERY, IDLE_POLL, Channel
from mesodrive.driver.injector import Injector
from mesodrive.driver.timebase import Timebase
from mesodrive.driver.transports import open_transport
from mesodrive.driver.vocabulary import Fault
from mesodrive.plan import load_library, load_plan, validate_plan
from mesodrive.records import RecordStore
from tests.controller.conftest import write_plan
from tests.driver.conftest import ready, sim_port


def test_the_simulated_clock_runs_at_the_requested_speed() -> None:
    with Injector.connect("sim://?seed=1&realtime=1&speed=10", timebase=Timebase(10)) as inj:
        port = sim_port(inj)
        t0, d0 = time.monotonic(), port.sim_call(lambda dev: dev.now)
        time.sleep(0.3)
        t1, d1 = time.monotonic(), port.sim_call(lambda dev: dev.now)
        assert (d1 - d0) / (t1 - t0) == pytest.approx(10, rel=0.15)
        # the driver's clock sync sees a normal device (rates agree in simulated seconds)
        inj.sync_clock(8)
        assert inj.clock is not None and abs(inj.clock.drift_ppm) < 2000


def test_a_plan_completes_under_a_ten_times_warp_with_every_point_once(tmp_path: Path) -> None:
    # No wall-time assertion (issue 13: none in unit tests); bench_warp.py measures the speed.
    path = write_plan(tmp_path)  # 9 points at 2 shots/s: ~4.5 simulated seconds
    with Injector.connect("sim://?seed=2&realtime=1&speed=10", timebase=Timebase(10)) as inj:
        assert inj.identity is not None
        vplan = validate_plan(load_plan(path), load_library(tmp_path / "products.toml"),
                              device_limits(inj.capabilities), base_dir=tmp_path)
        store = RecordStore(tmp_path / "r.db")
        session = store.start_session(plan_snapshot={}, plan_hash=vplan.plan_hash, product={},
                                      device={}, calibration={}, mode="auto")
        result = RunEngine(inj, vplan, store, session).run()
        from mesosim.transports import inner_device

        log = sim_port(inj).sim_call(lambda d: list(inner_device(d).executed_log))
        store.close()
    assert result.state is RunState.COMPLETED
    assert sorted(e.index for e in log) == list(range(9))


# ---- what made long warped runs lose the link (issue 13), each found deterministically -------


class _HeldDevice:
    """A ByteDevice that keeps the runner busy inside its first `write` until released, as
    a runner thread held up by the scheduler or the interpreter lock would be."""

    def __init__(self) -> None:
        self.now = 0.0
        self.held = threading.Event()
        self.release = threading.Event()
        self.writes: list[tuple[bytes, float]] = []  # (bytes, the device's time when fed)

    def write(self, data: bytes) -> None:
        self.writes.append((data, self.now))
        if len(self.writes) == 1:
            self.held.set()
            self.release.wait(5)

    def advance_to(self, t: float) -> None:
        self.now = max(self.now, t)

    def read(self) -> bytes:
        return b""

    def next_wakeup(self) -> float | None:
        return None


def test_bytes_written_while_the_runner_is_held_up_reach_the_device_at_their_arrival() -> None:
    # The runner once took the input, fed it, then advanced the device to "now": bytes that
    # arrived in between were fed only after the device had run past their arrival, so a
    # shot start or the dead-man saw a host silence the host never made.
    dev = _HeldDevice()
    runner = RealtimeRunner(dev, lambda out: None).start()
    try:
        runner.write(b"first")
        assert dev.held.wait(5)
        runner.write(b"second")
        arrived_by = runner.sim_time_at(time.monotonic())
        time.sleep(0.05)  # the runner stays held up a while after "second" arrived
        dev.release.set()
        deadline = time.monotonic() + 5
        while len(dev.writes) < 2 and time.monotonic() < deadline:
            time.sleep(0.005)
    finally:
        dev.release.set()
        runner.stop()
    assert [data for data, _ in dev.writes] == [b"first", b"second"]
    assert dev.writes[1][1] <= arrived_by


def test_no_full_garbage_collection_while_a_run_is_armed(tmp_path: Path) -> None:
    # A full collection pauses every thread (~17 ms after 4,500 points): 340 ms of device
    # time at 20×, and the device went safe. Here the run keeps enough objects alive to pass
    # the collector's trigger for a full collection; none may run while the device is armed.
    path = write_plan(tmp_path)
    with Injector.connect("sim://?seed=3&realtime=1&speed=10", timebase=Timebase(10)) as inj:
        vplan = validate_plan(load_plan(path), load_library(tmp_path / "products.toml"),
                              device_limits(inj.capabilities), base_dir=tmp_path)
        store = RecordStore(tmp_path / "r.db")
        session = store.start_session(plan_snapshot={}, plan_hash=vplan.plan_hash, product={},
                                      device={}, calibration={}, mode="auto")
        engine = RunEngine(inj, vplan, store, session)
        kept: list[list[int]] = []
        kept_while_armed: list[bool] = []
        heap = len(gc.get_objects())
        full_while_armed: list[int] = []

        def on_event(event: object) -> None:
            if isinstance(event, RunStateChanged) and event.new is RunState.RUNNING:
                kept_while_armed.append(inj.armed_session is not None)
                # survives the young collections: long-lived, as a run's rows and shots are
                kept.extend([i] for i in range(2 * heap + 100_000))
                kept_while_armed.append(inj.armed_session is not None)

        def on_gc(phase: str, info: dict[str, int]) -> None:
            if phase == "stop" and info["generation"] == 2 and inj.armed_session is not None:
                full_while_armed.append(info["collected"])

        engine.subscribe(on_event)
        gc.callbacks.append(on_gc)
        try:
            result = engine.run()
        finally:
            gc.callbacks.remove(on_gc)
        store.close()
    assert result.state is not RunState.FAILED
    assert kept_while_armed == [True, True], "the objects were not made while the run was armed"
    assert full_while_armed == []
    assert gc.get_threshold()[2] < HELD and gc.get_freeze_count() == 0  # restored after the run


def test_a_warped_runner_shortens_the_gil_switch_interval_while_it_runs() -> None:
    # At 20× the default 5 ms a woken thread may wait for the interpreter lock is 100 ms of
    # device time: all of the "no start after 100 ms of host silence" margin.
    before = sys.getswitchinterval()
    with Injector.connect("sim://?seed=4&realtime=1&speed=20", timebase=Timebase(20)):
        assert sys.getswitchinterval() == pytest.approx(min(before, 0.005 / 20))
        with Injector.connect("sim://?seed=5&realtime=1"):  # a 1× runner changes nothing
            assert sys.getswitchinterval() == pytest.approx(min(before, 0.005 / 20))
    assert sys.getswitchinterval() == before


def test_the_io_thread_sleeps_until_the_next_heartbeat_towards_an_armed_device() -> None:
    # At K× a fixed 5 ms poll is K× as many wake-ups per wall second, each one taking the
    # interpreter lock from the threads the heartbeat depends on.
    armed = False
    channel = Channel(open_transport("sim://?seed=6&realtime=1"), Timebase(20),
                      heartbeat_due=lambda: armed)
    try:
        assert channel._io_wait() == pytest.approx(IDLE_POLL)
        armed = True
        channel.write(b"\x00")
        assert HEARTBEAT_EVERY - 0.01 < channel._io_wait() <= HEARTBEAT_EVERY
        channel._last_tx -= 2 * HEARTBEAT_EVERY  # overdue: at once
        assert channel._io_wait() == 0
    finally:
        channel.close()


def test_a_host_silence_that_makes_the_device_go_safe_counts_as_the_worst_frame_gap() -> None:
    # It ends with the device disarmed, so the next write no longer counts it: the benchmarks'
    # "worst host frame gap" missed exactly the gap that lost the link.
    with Injector.connect("sim://?seed=7&realtime=1") as inj:
        ready(inj)
        inj.channel.reset_gap()
        with inj.channel.lock:  # the I/O thread (heartbeats) and every sender wait here
            time.sleep(0.4)
        deadline = time.monotonic() + 5
        while inj.armed_session is not None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert inj.armed_session is None
        assert inj.last_fault is not None and inj.last_fault.code == Fault.LINK_LOST
        assert inj.channel.reset_gap() >= 0.25
