"""The estimate: the motion/flow model matches the simulator shot for shot, is monotone in
volume and flow, and bounds the auto cadence where the simulator starts faulting LATE_SHOT."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mesosim import SimConfig

from mesodrive.plan import DeviceLimits, PlannedPoint, estimate, move_time, plan_refills, shot_time
from mesodrive.plan.estimate import REPOSITION_S, SHOT_GAP_S
from mesodrive.protocol.messages import DeviceState, Fault, FaultEvent, ShotResult
from tests.sim.conftest import WireHost

DEVICE = DeviceLimits.default()


def pt(n: int = 1, **changes: float) -> PlannedPoint:
    return dataclasses.replace(PlannedPoint(n, 0.0, 0.0, None, 2.0, 10.0, 20.0, 50.0, 0.0),
                               **changes)


def test_default_device_is_the_simulator() -> None:
    cfg = SimConfig()
    assert DEVICE == DeviceLimits(
        depth_min_mm=cfg.depth_min_um / 1000, depth_max_mm=cfg.depth_max_um / 1000,
        volume_min_ul=cfg.volume_min_nl / 1000, volume_max_ul=cfg.volume_max_nl / 1000,
        flow_min_ul_s=cfg.flow_min_nl_s / 1000, flow_max_ul_s=cfg.flow_max_nl_s / 1000,
        speed_min_mm_s=cfg.speed_min_um_s / 1000, speed_max_mm_s=cfg.speed_max_um_s / 1000,
        dwell_max_s=cfg.dwell_max_ms / 1000, syringe_ul=cfg.syringe_nl / 1000,
        timed=cfg.timed_mode, triggered=cfg.triggered_mode,
        needle_accel_mm_s2=cfg.needle_accel_um_s2 / 1000,
        retract_speed_mm_s=cfg.speed_max_um_s / 1000,  # retraction at maximum speed
        approach_mm=cfg.park_um / 1000,
    )


def test_move_time() -> None:
    assert move_time(0, 50, 20000) == 0
    assert move_time(3.5, 50, 20000) == pytest.approx(3.5 / 50 + 50 / 20000)  # trapezoid
    assert move_time(0.01, 200, 20000) == pytest.approx(2 * (0.01 / 20000) ** 0.5)  # triangle


def test_readme_example_shot() -> None:
    # simulator/mesosim/README.md: 2 mm, 10 µL at 20 µL/s and 50 mm/s, no dwell -> 0.60 s
    assert shot_time(pt(), DEVICE) == pytest.approx(0.60, abs=0.001)


def _armed() -> WireHost:
    h = WireHost()
    h.ready_armed()
    return h


def _queue(h: WireHost, index: int, p: PlannedPoint, fire_tick: int) -> None:
    h.send(h.shot(index, fire_tick=fire_tick, depth_um=round(p.depth_mm * 1000),
                  volume_nl=round(p.volume_ul * 1000), flow_nl_s=round(p.flow_ul_s * 1000),
                  speed_um_s=round(p.speed_mm_s * 1000), dwell_ms=round(p.dwell_s * 1000)))


@pytest.mark.parametrize(
    "p",
    [pt(), pt(depth_mm=2.5, volume_ul=55, flow_ul_s=80, speed_mm_s=50),  # scalp crown
     pt(depth_mm=1.2, volume_ul=20, flow_ul_s=40, speed_mm_s=40, dwell_s=0.2),
     pt(depth_mm=4.0, volume_ul=1, flow_ul_s=100, speed_mm_s=5)],
)
def test_shot_time_matches_the_simulator(p: PlannedPoint) -> None:
    h = _armed()
    _queue(h, 0, p, h.dev.device_ticks() + 20_000)
    h.step(shot_time(p, DEVICE) + 0.1)
    res = h.last(ShotResult)
    rate = 1e6 * (1 + h.dev.config.clock_drift_ppm * 1e-6)
    assert (res.end_tick - res.start_tick) / rate == pytest.approx(shot_time(p, DEVICE), abs=1e-4)


def test_achievable_cadence_is_where_the_simulator_keeps_up() -> None:
    p = pt(depth_mm=2.5, volume_ul=55, flow_ul_s=80, speed_mm_s=50)
    est = estimate([p] * 4, DEVICE, "auto", None)
    for hz, late in ((est.achievable_cadence_hz, False), (1.02 / est.per_shot_s, True)):
        h = _armed()
        t0 = h.dev.device_ticks() + 20_000
        for i in range(4):
            _queue(h, i, p, t0 + round(i * 1e6 / hz))
        h.step(4 / hz + 0.5)
        faults = [Fault(m.code) for m in h.msgs(FaultEvent)]
        if late:
            assert Fault.LATE_SHOT in faults
        else:
            assert faults == [] and len(h.msgs(ShotResult)) == 4
            assert h.dev.state is DeviceState.ARMED


vol = st.floats(1, 200)
flow = st.floats(1, 100)


@given(st.lists(st.tuples(vol, flow), min_size=1, max_size=20), st.floats(1.01, 3),
       st.sampled_from(["auto", "triggered"]), st.sampled_from([None, 10_000.0, 300.0]))
def test_estimate_monotone_in_volume_and_flow(
    shots: list[tuple[float, float]], factor: float, mode: str, refill: float | None
) -> None:
    pts = [pt(i + 1, volume_ul=v, flow_ul_s=f) for i, (v, f) in enumerate(shots)]
    more = [dataclasses.replace(p, volume_ul=p.volume_ul * factor) for p in pts]
    faster = [dataclasses.replace(p, flow_ul_s=min(p.flow_ul_s * factor, 100.0)) for p in pts]
    cadence = 0.1 if mode == "auto" else None
    base = estimate(pts, DEVICE, mode, cadence, refill_ul=refill)
    e_more = estimate(more, DEVICE, mode, cadence, refill_ul=refill)
    e_fast = estimate(faster, DEVICE, mode, cadence, refill_ul=refill)
    assert e_more.total_volume_ul > base.total_volume_ul
    assert e_more.per_shot_s > base.per_shot_s
    assert e_more.duration_s >= base.duration_s and e_more.refills >= base.refills
    assert e_more.achievable_cadence_hz < base.achievable_cadence_hz
    assert e_fast.duration_s <= base.duration_s + 1e-9
    assert e_fast.achievable_cadence_hz >= base.achievable_cadence_hz - 1e-12
    if mode == "triggered":
        assert e_more.duration_s > base.duration_s


def test_estimate_modes() -> None:
    pts = [pt(i + 1) for i in range(10)]
    trig = estimate(pts, DEVICE, "triggered", None)
    assert trig.cadence_hz is None
    assert trig.duration_s == pytest.approx(10 * 0.6 + 9 * REPOSITION_S, abs=0.01)
    auto = estimate(pts, DEVICE, "auto", 1.25)
    assert auto.cadence_hz == 1.25 and auto.duration_s == pytest.approx(9 * 0.8 + 0.6, abs=0.01)
    assert auto.achievable_cadence_hz == pytest.approx(1 / (0.6 + SHOT_GAP_S), abs=0.01)
    assert estimate([], DEVICE, "auto", 1.0).duration_s == 0


def test_refill_plan() -> None:
    pts = [pt(i + 1, volume_ul=40) for i in range(10)]
    assert plan_refills(pts, 400) == ()
    assert plan_refills(pts, 399) == (10,)
    assert plan_refills(pts, 100) == (3, 5, 7, 9)  # a point is never split across fills
    assert estimate(pts, DEVICE, "triggered", None, refill_ul=100).refills == 4
    same = [pt(1, volume_ul=40)] * 3  # one object three times: still counted per position
    assert plan_refills(same, 50) == (1, 1)
