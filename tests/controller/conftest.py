"""A small, fast plan and a run engine wired to the in-process simulator and a real SQLite."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mesodrive.controller.device_limits import device_limits
from mesodrive.controller.engine import RunConfig, RunEngine
from mesodrive.controller.recovery import RecoveryPolicy, abort_policy
from mesodrive.controller.states import RunState
from mesodrive.driver.injector import Injector
from mesodrive.plan import ValidatedPlan, load_library, load_plan, validate_plan
from mesodrive.records import RecordStore
from tests.driver.conftest import sim_port

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# 3 × 3 = 9 points of 10 µL at 1 mm, within the product's soft limits: 2 shots/s.
SMALL_PLAN = """
schema_version = 1
patient_ref = "TEST"
library = "products.toml"
product = "skin-booster-ha"
indication = "skin"
pattern = "square"
spacing_mm = 5
ordering = "serpentine"
mode = "{mode}"
{cadence}

[area]
kind = "rectangle"
origin_mm = [0, 0]
size_mm = [10, 10]

[defaults]
depth_mm = 1.0
volume_ul = 10
flow_ul_s = 40
speed_mm_s = 80
dwell_s = 0.0
"""


def write_plan(tmp_path: Path, mode: str = "auto", cadence_hz: float | None = 2.0) -> Path:
    shutil.copy(EXAMPLES / "products.toml", tmp_path / "products.toml")
    cadence = f"cadence_hz = {cadence_hz}" if cadence_hz is not None else ""
    path = tmp_path / "plan.toml"
    path.write_text(SMALL_PLAN.format(mode=mode, cadence=cadence))
    return path


class Run:
    """An engine in a background thread, with helpers to reach the device's truth."""

    def __init__(self, engine: RunEngine, inj: Injector, store: RecordStore, plan: ValidatedPlan) -> None:
        self.engine, self.inj, self.store, self.plan = engine, inj, store, plan
        self.thread = threading.Thread(target=engine.run, daemon=True)

    def start(self) -> Run:
        self.thread.start()
        return self

    def join(self, timeout: float = 30.0) -> RunState:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"run did not end (state {self.engine.state})"
        return self.engine.state

    def wait_state(self, state: RunState, timeout: float = 10.0) -> None:
        end = time.monotonic() + timeout
        while self.engine.state is not state:
            assert time.monotonic() < end, f"never reached {state} (is {self.engine.state})"
            time.sleep(0.01)

    def wait_delivered(self, n: int, timeout: float = 10.0) -> None:
        end = time.monotonic() + timeout
        while len(self.engine.result.delivered) < n:
            assert time.monotonic() < end, f"only {len(self.engine.result.delivered)} delivered"
            time.sleep(0.01)

    def executed(self) -> list[Any]:
        from mesosim.transports import inner_device

        return sim_port(self.inj).sim_call(lambda dev: list(inner_device(dev).executed_log))

    def executed_points(self) -> list[int]:
        """The plan point of every shot the device executed (via the records' index → point)."""
        rows = self.store.latest_shots(self.engine.session)
        return [rows[e.index].point for e in self.executed() if e.session in self.engine.device_sessions]


@pytest.fixture
def make_run(tmp_path: Path) -> Iterator[Callable[..., Run]]:
    made: list[Run] = []

    def _make(query: str = "seed=1", *, policy: RecoveryPolicy = abort_policy, mode: str = "auto",
              cadence_hz: float | None = 2.0, config: RunConfig | None = None) -> Run:
        path = write_plan(tmp_path, mode, cadence_hz)
        plan = load_plan(path)
        inj = Injector.connect(f"sim://?{query}&realtime=1")
        assert inj.identity is not None
        vplan = validate_plan(plan, load_library(tmp_path / "products.toml"),
                              device_limits(inj.capabilities), base_dir=tmp_path)
        store = RecordStore(tmp_path / f"records-{len(made)}.db")
        session = store.start_session(plan_snapshot={"plan": vplan.snapshot()}, plan_hash=vplan.plan_hash,
                                      product=vplan.product.model_dump(mode="json"), device={},
                                      calibration={}, mode=vplan.mode)
        run = Run(RunEngine(inj, vplan, store, session, policy=policy, config=config), inj, store, vplan)
        made.append(run)
        return run

    yield _make
    for run in made:
        if run.thread.is_alive():
            run.engine.abort("test teardown")
            run.thread.join(10)
        run.inj.close()
        run.store.close()
