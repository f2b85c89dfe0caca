"""Time-warped runs: the simulator's runner and the host's Timebase both at K× real time."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from mesodrive.controller.device_limits import device_limits
from mesodrive.controller.engine import RunEngine
from mesodrive.controller.states import RunState
from mesodrive.driver.injector import Injector
from mesodrive.driver.timebase import Timebase
from mesodrive.plan import load_library, load_plan, validate_plan
from mesodrive.records import RecordStore
from tests.controller.conftest import write_plan
from tests.driver.conftest import sim_port


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


def test_a_plan_completes_ten_times_faster_with_every_point_once(tmp_path: Path) -> None:
    path = write_plan(tmp_path)  # 9 points at 2 shots/s: ~4.5 simulated seconds
    with Injector.connect("sim://?seed=2&realtime=1&speed=10", timebase=Timebase(10)) as inj:
        assert inj.identity is not None
        vplan = validate_plan(load_plan(path), load_library(tmp_path / "products.toml"),
                              device_limits(inj.capabilities), base_dir=tmp_path)
        store = RecordStore(tmp_path / "r.db")
        session = store.start_session(plan_snapshot={}, plan_hash=vplan.plan_hash, product={},
                                      device={}, calibration={}, mode="auto")
        t0 = time.monotonic()
        result = RunEngine(inj, vplan, store, session).run()
        wall = time.monotonic() - t0
        from mesosim.transports import inner_device

        log = sim_port(inj).sim_call(lambda d: list(inner_device(d).executed_log))
        store.close()
    assert result.state is RunState.COMPLETED
    assert wall < 3.0  # ~0.6 s expected; real time would need ~5 s
    assert sorted(e.index for e in log) == list(range(9))
