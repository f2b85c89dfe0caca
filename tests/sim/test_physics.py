"""The simulator's physics: unit checks of the models, then behaviour seen through the wire."""

from __future__ import annotations

import itertools
import math
import statistics
from typing import Any

import pytest
from mesosim.physics import (
    Axis,
    DeviceClock,
    LineModel,
    Move,
    expected_pressure_integral,
    move_duration,
)

from mesodrive.protocol.messages import (
    BootEvent,
    ClearFault,
    ClockQuery,
    ClockReply,
    DeviceState,
    Fault,
    FaultEvent,
    LoadSyringe,
    Prime,
    ShotFlag,
    ShotResult,
    StateEvent,
    Telemetry,
)

S = DeviceState
F = ShotFlag


# ---- unit: kinematics, clock, line -------------------------------------------------------------
def test_trapezoid_and_triangle_moves() -> None:
    a = 20e6
    m = Move(1.0, -1500.0, 2500.0, 50_000.0, a)
    assert m.duration == pytest.approx(4000 / 50_000 + 50_000 / a)
    assert m.position(0.5) == -1500 and m.position(m.t_end + 1) == 2500
    ts = [1.0 + m.duration * i / 200 for i in range(201)]
    ps = [m.position(t) for t in ts]
    assert all(b >= a_ for a_, b in itertools.pairwise(ps))
    assert ps[-1] == pytest.approx(2500)
    # mid-cruise speed is vmax
    tm = 1.0 + m.duration / 2
    assert (m.position(tm + 1e-4) - m.position(tm)) / 1e-4 == pytest.approx(50_000, rel=1e-6)
    tri = Move(0.0, 0.0, 100.0, 200_000.0, a)  # too short to reach vmax
    assert tri.duration == pytest.approx(2 * math.sqrt(100 / a))
    assert tri.position(tri.duration / 2) == pytest.approx(50)
    back = Move(0.0, 3000.0, -1500.0, 200_000.0, a)
    assert back.position(back.duration) == -1500 and back.position(
        back.duration / 2
    ) == pytest.approx(750)
    assert move_duration(0, 1, 1) == 0
    ax = Axis(-1500.0)
    ax.move_to(0.0, 2000.0, 50_000.0, a)
    assert ax.moving(0.01) and not ax.moving(1.0)
    ax.move_to(0.02, -1500.0, 200_000.0, a)  # reverse mid-move from where it is
    assert ax.move is not None and ax.move.p0 == pytest.approx(
        Move(0.0, -1500.0, 2000.0, 50_000.0, a).position(0.02)
    )


def test_device_clock_offset_drift_and_inverse() -> None:
    c = DeviceClock(1_000_000, 35.0, boot_time=2.0)
    assert c.ticks(2.0) == 1_000_000
    assert c.ticks(102.0) == 1_000_000 + math.floor(100e6 * (1 + 35e-6))
    assert c.ticks(c.time_of(1_000_000)) == 1_000_000
    for k in (1_000_001, 1_234_567, 99_000_000_123):
        t = c.time_of(k)
        assert c.ticks(t) >= k and c.ticks(t - 2e-6) < k


def _line(**kw: Any) -> LineModel:
    p = {"compliance": 0.004, "needle_resistance": 1.5, "air_factor": 0.02, "syringe_nl": 1e6}
    p.update(kw)
    return LineModel(**p)  # type: ignore[arg-type]


def test_line_steady_state_and_volume_balance() -> None:
    line = _line()
    line.tissue_r = 2.5
    line.set_inflow(20_000.0)
    line.advance(0.5)
    assert line.p == pytest.approx(20_000 * 4.0, rel=1e-9)
    line.set_inflow(0.0)
    line.advance(0.51)
    assert line.displaced_nl == pytest.approx(10_000)
    # everything pushed in either left or is still stored in the compliance
    assert line.liquid_out_nl + line.c * line.p == pytest.approx(line.displaced_nl, rel=1e-9)
    line.advance(5.0)
    assert line.liquid_out_nl == pytest.approx(10_000, rel=1e-9)
    assert line.p == pytest.approx(0, abs=1e-6)


def test_line_integral_matches_the_firmware_model() -> None:
    line = _line()
    line.tissue_r = 2.5
    line.set_inflow(30_000.0)
    line.advance(0.07)
    assert line.p_integral == pytest.approx(expected_pressure_integral(30_000, 4.0, 0.004, 0.07))


def test_line_crossing_time() -> None:
    line = _line(needle_resistance=300.0)
    line.set_inflow(20_000.0)
    t = line.crossing_time(600_000, upward=True)
    assert t is not None
    line.advance(t)
    assert line.p == pytest.approx(600_000, rel=1e-9)
    assert line.crossing_time(600_000, upward=True) is None
    line.set_inflow(0.0)
    t2 = line.crossing_time(300_000, upward=False)
    assert t2 is not None
    line.advance(t2)
    assert line.p == pytest.approx(300_000, rel=1e-9)


def test_line_air_leaves_first_and_empty_syringe_stops_the_plunger() -> None:
    line = _line(syringe_nl=8000.0)
    line.air_nl = 3000.0
    line.tissue_r = 2.5
    line.set_inflow(10_000.0)
    b = line.boundary()
    assert b is not None and b[1] == "air" and b[0] == pytest.approx(0.3, rel=0.01)
    line.advance(0.5)
    assert line.air_nl == 0 and line.air_out_nl == pytest.approx(3000)
    assert line.liquid_out_nl < 2000
    line.advance(2.0)
    assert line.hit_end and line.q_in == 0 and line.syringe_nl == 0
    assert line.displaced_nl == pytest.approx(8000)
    line.hit_end = False
    line.set_inflow(1000.0)  # pushing on an empty syringe
    assert line.hit_end and line.q_in == 0


# ---- through the wire: truth vs report ------------------------------------------------------------
def _run_shots(h: Any, shots: list[dict[str, int]], gap: float = 0.05) -> list[ShotResult]:
    for i, p in enumerate(shots):
        h.send(h.shot(i, lead_s=gap, **p))
        h.step_until(lambda n=i + 1: len(h.msgs(ShotResult)) >= n, timeout=15.0, dt=0.05)
        assert h.dev.state is S.ARMED, h.msgs(FaultEvent)
    return h.msgs(ShotResult)


SWEEP = [
    {"depth_um": d, "volume_nl": v, "flow_nl_s": f, "speed_um_s": sp, "dwell_ms": dw}
    for d, v, f, sp, dw in [
        (1000, 500, 5_000, 20_000, 0),
        (1500, 1000, 10_000, 50_000, 50),
        (2000, 2000, 20_000, 100_000, 0),
        (2500, 5000, 50_000, 200_000, 100),
        (3000, 10_000, 20_000, 30_000, 0),
        (3500, 20_000, 40_000, 80_000, 200),
        (4000, 50_000, 100_000, 150_000, 0),
        (1200, 100_000, 60_000, 10_000, 300),
        (3800, 1500, 1_000, 5_000, 0),
    ]
]


def test_truth_follows_the_hidden_errors(armed: Any) -> None:
    h = armed
    cfg = h.dev.config
    shots = SWEEP * 2
    results = _run_shots(h, shots)
    log = h.dev.executed_log
    assert len(log) == len(shots)
    depth_res, vol_res = [], []
    for p, res, e in zip(shots, results, log):
        assert res.flags == 0
        # The device reports what its sensors believe: the commanded values, give or take.
        assert res.delivered_nl == p["volume_nl"]
        assert abs(res.reached_depth_um - p["depth_um"]) <= 4 * cfg.depth_encoder_noise_um + 1
        # The truth carries the hidden calibration errors.
        true_depth = p["depth_um"] * cfg.depth_scale + cfg.depth_offset_um
        assert abs(e.true_depth_um - true_depth) <= 4 * cfg.depth_noise_um
        depth_res.append(e.true_depth_um - true_depth)
        true_vol = p["volume_nl"] * cfg.volume_gain + cfg.volume_offset_nl
        assert abs(e.true_delivered_nl - true_vol) <= 4 * cfg.volume_cv * true_vol + 1
        vol_res.append((e.true_delivered_nl - true_vol) / true_vol)
        assert e.true_into_tissue_nl <= e.true_delivered_nl * 1.01  # (+ the last shot's tail)
        assert (e.reported_depth_um, e.reported_delivered_nl) == (
            res.reached_depth_um,
            res.delivered_nl,
        )
    assert abs(statistics.mean(depth_res)) < 3 * cfg.depth_noise_um / math.sqrt(len(shots))
    assert 0.3 * cfg.volume_cv < statistics.stdev(vol_res) < 2 * cfg.volume_cv
    # The hidden errors are big enough for calibration to find.
    assert abs(log[0].true_depth_um - shots[0]["depth_um"]) > 50
    assert abs(log[6].true_delivered_nl - shots[6]["volume_nl"]) > 1000
    # A balance sees all of it once the line has relaxed.
    h.step(1.0)
    assert h.dev.true_dispensed_nl == pytest.approx(sum(e.true_delivered_nl for e in log), rel=1e-6)


def test_ideal_device_delivers_what_it_is_told(make_host: Any) -> None:
    h = make_host(
        depth_offset_um=0.0,
        depth_scale=1.0,
        volume_gain=1.0,
        volume_offset_nl=0.0,
        depth_noise_um=0.0,
        volume_cv=0.0,
    )
    h.ready_armed()
    _run_shots(h, SWEEP[:5])
    for p, e in zip(SWEEP, h.dev.executed_log):
        assert e.true_depth_um == pytest.approx(p["depth_um"])
        assert e.true_delivered_nl == pytest.approx(p["volume_nl"])


def test_depth_gauge_reads_true_protrusion_during_dwell(armed: Any) -> None:
    h = armed
    cfg = h.dev.config
    h.send(h.shot(0, lead_s=0.01, depth_um=3000, volume_nl=1000, flow_nl_s=50_000, dwell_ms=2000))
    h.step(0.8)
    assert h.dev.state is S.FIRING
    gauge = h.dev.true_needle_um
    assert gauge == pytest.approx(
        3000 * cfg.depth_scale + cfg.depth_offset_um, abs=4 * cfg.depth_noise_um
    )
    assert h.status().needle_um == 3000  # the device believes the commanded depth
    h.step(2.0)
    assert h.dev.executed_log[0].true_depth_um == pytest.approx(gauge)
    assert h.dev.true_needle_um < 0


def test_pressure_tracks_flow_through_tissue(armed: Any) -> None:
    h = armed
    cfg = h.dev.config
    results = _run_shots(
        h, [{"volume_nl": 20_000, "flow_nl_s": 10_000}, {"volume_nl": 40_000, "flow_nl_s": 40_000}]
    )
    r = cfg.needle_resistance + cfg.tissue_resistance
    for res, q in zip(results, (10_000, 40_000)):
        assert res.peak_pressure_pa == pytest.approx(q * r, rel=0.25)
    assert results[1].peak_pressure_pa > 3 * results[0].peak_pressure_pa


# ---- through the wire: faults -------------------------------------------------------------------
def _first_over(h: Any, level: float) -> float:
    return min(t for t, m in h.timed(Telemetry) if m.pressure_pa > level)


def test_occlusion_faults_only_after_300ms_over_threshold(make_host: Any) -> None:
    h = make_host(shot_faults=((1, "occlusion"),))
    h.ready_armed(telemetry_ms=1)  # raised to the 10 ms minimum
    thr = h.dev.config.occlusion_threshold_pa
    h.send(h.shot(0, lead_s=0.01, volume_nl=20_000, flow_nl_s=20_000))
    h.step(2.0)
    tel = h.msgs(Telemetry)
    assert 0.009 < tel[1].tick / 1e6 - tel[0].tick / 1e6 < 0.011
    fe = h.last(FaultEvent)
    assert fe.code == Fault.OCCLUSION and fe.detail > thr
    (t_fault,) = [t for t, m in h.timed(FaultEvent)]
    over = _first_over(h, thr)
    assert 0.29 <= t_fault - over <= 0.311
    res = h.last(ShotResult)
    assert res.flags & (F.OCCLUSION | F.ABORTED) == F.OCCLUSION | F.ABORTED
    assert res.peak_pressure_pa > thr and res.delivered_nl < 20_000
    e = h.dev.executed_log[0]
    assert e.true_into_tissue_nl < 0.5 * res.delivered_nl  # the volume stayed in the line
    assert h.states()[-1] is S.FAULT
    # Clearing the fault (operator changed the needle) releases the trapped volume.
    stored = h.dev.true_pressure_pa * h.dev.config.line_compliance_nl_per_pa
    assert stored > 1000
    before = h.dev.true_dispensed_nl
    h.send(ClearFault())
    h.step(0.5)
    assert h.dev.true_dispensed_nl - before == pytest.approx(stored, rel=0.05)
    h.home()
    h.arm(session=8)
    h.send(h.shot(0, session=8, lead_s=0.01))
    h.step(1.0)
    assert h.last(ShotResult).flags == 0


def test_short_pressure_transient_does_not_fault(make_host: Any) -> None:
    h = make_host(shot_faults=((1, "occlusion"),))
    h.ready_armed(telemetry_ms=2)
    thr = h.dev.config.occlusion_threshold_pa
    h.send(h.shot(0, lead_s=0.01, volume_nl=5000, flow_nl_s=50_000, speed_um_s=200_000))
    h.step(0.4)
    res = h.last(ShotResult)
    assert res.flags == 0 and res.peak_pressure_pa > thr  # over the threshold, briefly
    assert not h.msgs(FaultEvent)
    over = [t for t, m in h.timed(Telemetry) if m.pressure_pa > thr and m.state == S.FIRING]
    assert over and max(over) - min(over) < 0.3
    # The needle is still clogged: the next shot starts with trapped pressure and faults.
    h.send(h.shot(1, lead_s=0.01, volume_nl=20_000, flow_nl_s=20_000))
    h.step(1.5)
    assert h.last(FaultEvent).code == Fault.OCCLUSION


def test_overpressure_faults_at_once(make_host: Any) -> None:
    h = make_host(shot_faults=((1, "occlusion"),))
    h.ready_armed()
    h.send(h.shot(0, lead_s=0.01, volume_nl=100_000, flow_nl_s=100_000))
    h.step(1.5)
    fe = h.last(FaultEvent)
    assert fe.code == Fault.OVERPRESSURE
    assert fe.detail == pytest.approx(h.dev.config.overpressure_pa, rel=1e-3)
    assert h.last(ShotResult).flags & F.OCCLUSION


def test_air_is_reported_after_the_shot(make_host: Any) -> None:
    h = make_host(shot_faults=((2, "air"),))
    h.ready_armed()
    h.send(h.shot(0, lead_s=0.01))
    h.step(1.0)
    h.send(h.shot(1, lead_s=0.01, volume_nl=20_000, flow_nl_s=20_000, dwell_ms=100))
    h.step(2.0)
    res = h.last(ShotResult)
    assert res.flags == F.AIR | F.UNDER_DELIVERED  # completed, not aborted
    assert 0.3 * 20_000 < res.delivered_nl < 0.75 * 20_000
    e = h.dev.executed_log[1]
    assert e.true_delivered_nl == pytest.approx(
        20_000 * (h.dev.config.volume_gain - 0.5) - 120, rel=0.05
    )
    assert e.end_tick == res.end_tick  # not cut short
    # shot_result, then fault_event, then state_event (all at the end of the shot)
    order = [
        type(m).__name__ for _, m in h.inbox if isinstance(m, (ShotResult, FaultEvent, StateEvent))
    ]
    assert order[-3:] == ["ShotResult", "FaultEvent", "StateEvent"]
    assert h.last(FaultEvent).code == Fault.AIR


def test_new_syringe_must_be_primed(make_host: Any) -> None:
    for primed in (False, True):
        h = make_host()
        h.connect()
        h.send(LoadSyringe(5_000_000))
        h.home()
        if primed:
            h.send(Prime(20_000, 20_000))
            h.step(1.1)
        h.arm()
        h.send(h.shot(0, lead_s=0.01, volume_nl=8000))
        h.step(1.0)
        flags = h.last(ShotResult).flags
        assert bool(flags & F.AIR) is (not primed), flags


def test_stall(make_host: Any) -> None:
    h = make_host(shot_faults=((1, "stall"),))
    h.ready_armed()
    h.send(h.shot(0, lead_s=0.01, volume_nl=20_000, flow_nl_s=20_000))
    h.step(2.0)
    res = h.last(ShotResult)
    assert res.flags == F.ABORTED | F.STALL | F.UNDER_DELIVERED
    assert res.delivered_nl == pytest.approx(0.4 * 20_000, abs=10)
    fe = h.last(FaultEvent)
    assert fe.code == Fault.STALL
    stall_tick = res.start_tick  # detection 20 ms after the stall, 40 % into dispensing
    assert fe.tick > stall_tick


def test_scheduled_empty_syringe(make_host: Any) -> None:
    h = make_host(shot_faults=((1, "empty"),))
    h.ready_armed()
    h.send(h.shot(0, lead_s=0.01, volume_nl=20_000, flow_nl_s=20_000))
    h.step(2.0)
    res = h.last(ShotResult)
    assert res.flags == F.ABORTED | F.EMPTY | F.UNDER_DELIVERED
    assert res.delivered_nl == pytest.approx(10_000, rel=0.05)
    assert h.last(FaultEvent).code == Fault.EMPTY_SYRINGE
    assert h.status().remaining_nl == 0
    assert h.dev.true_syringe_nl == 0


def test_true_syringe_runs_dry_before_the_device_expects(make_host: Any) -> None:
    """Volume gain > 1: the plunger pushes more than it believes, so the end comes early."""
    h = make_host(reload_air_nl=0.0)
    h.connect()
    h.send(LoadSyringe(30_000))
    h.home()
    h.arm()
    for i in range(3):
        h.send(h.shot(i, lead_s=0.01))
        h.step(1.0)
    res = h.msgs(ShotResult)
    assert [r.flags for r in res[:2]] == [0, 0]
    assert res[2].flags & F.EMPTY and h.last(FaultEvent).code == Fault.EMPTY_SYRINGE


def test_no_contact_aborts_before_the_needle_moves(armed: Any) -> None:
    h = armed
    h.dev.set_contact(False)
    h.send(h.shot(0, lead_s=0.01))
    h.step(0.5)
    res = h.last(ShotResult)
    assert res.flags == F.ABORTED | F.NOT_STARTED | F.CONTACT_LOST | F.UNDER_DELIVERED
    assert res.start_tick == res.end_tick and res.delivered_nl == 0 and res.reached_depth_um == 0
    assert h.last(FaultEvent).code == Fault.CONTACT_LOST
    assert h.dev.executed_log == []  # it never moved
    assert h.status().contact == 0


def test_contact_lost_mid_shot(make_host: Any) -> None:
    for how in ("scheduled", "sensor"):
        h = make_host(shot_faults=((1, "contact_lost"),) if how == "scheduled" else ())
        h.ready_armed()
        h.send(h.shot(0, lead_s=0.01, volume_nl=20_000, flow_nl_s=20_000))
        if how == "sensor":
            h.step(0.5)
            h.dev.set_contact(False)
        h.step(2.0)
        res = h.last(ShotResult)
        assert res.flags & (F.ABORTED | F.CONTACT_LOST) == F.ABORTED | F.CONTACT_LOST
        assert 0 < res.delivered_nl < 20_000
        assert h.dev.executed_log[0].true_delivered_nl < 20_000
    h.step(1.0)
    assert h.status().contact == 0  # the sensor still reads off


def test_power_loss_mid_shot(make_host: Any) -> None:
    h = make_host(shot_faults=((2, "reboot"),))
    h.ready_armed()
    h.send(h.shot(0, lead_s=0.01))
    h.step(1.0)
    old = h.nonce
    h.send(h.shot(1, lead_s=0.01, volume_nl=20_000, flow_nl_s=20_000))
    h.send(h.shot(2, lead_s=1.5))
    h.step(3.0)
    assert [r.index for r in h.msgs(ShotResult)] == [0]  # the device never reported shot 1
    (boot,) = [m for m in h.msgs(BootEvent)][-1:]
    assert boot.boot_nonce == h.nonce != old
    e = h.dev.executed_log[1]
    assert e.power_lost and e.end_tick is None and e.boot_nonce == old
    assert 0.4 * 20_000 < e.true_delivered_nl < 0.6 * 20_000
    assert len(h.dev.executed_log) == 2  # shot 2 died with the boot
    assert h.dev.true_needle_um < 0  # the return spring pulled the needle out
    h.connect()
    st = h.status()
    assert st.state == S.IDLE and st.remaining_nl < h.dev.config.syringe_nl - 10_000


def test_clock_drift_seen_from_the_host(host: Any) -> None:
    host.connect()
    cfg = host.dev.config
    t0, k0 = host.t, host.query(ClockQuery, ClockReply).ticks
    host.step(100.0)
    t1, k1 = host.t, host.query(ClockQuery, ClockReply).ticks
    rate = (k1 - k0) / (t1 - t0)
    assert rate / 1e6 - 1 == pytest.approx(cfg.clock_drift_ppm * 1e-6, abs=2e-8)
    assert abs(k0 - cfg.clock_offset_ticks) < 1e6  # booted at the configured offset


def test_long_time_warped_session(armed: Any) -> None:
    """300 shots at 8 per second, queued a few ahead on the device clock, all clean."""
    h = armed
    base = h.dev.device_ticks() + 100_000
    n, sent = 300, 0
    while len(h.msgs(ShotResult)) < n:
        while sent < n and sent - len(h.msgs(ShotResult)) < 8:
            h.send(
                h.shot(
                    sent,
                    fire_tick=base + sent * 125_000,
                    volume_nl=2000,
                    flow_nl_s=50_000,
                    speed_um_s=150_000,
                )
            )
            sent += 1
        h.step(0.1)
        assert h.dev.state in (S.ARMED, S.FIRING), h.msgs(FaultEvent)
    results = h.msgs(ShotResult)
    assert all(r.flags == 0 for r in results)
    assert [r.index for r in results] == list(range(n))
    assert all(0 <= r.start_tick - (base + r.index * 125_000) <= 2 for r in results)
