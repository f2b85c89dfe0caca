"""The shot queue on the device clock (PROTOCOL.md §11-§14), through the wire only."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from mesosim import SimConfig
from mesosim.shots import RECORDS_KEPT, ShotBook
from mesosim.shots import ShotRecord as BookRecord

from mesodrive.protocol.messages import (
    Arm,
    BootEvent,
    CancelQueue,
    ClearFault,
    DeviceState,
    Disarm,
    Fault,
    FaultEvent,
    GetShot,
    Heartbeat,
    LoadSyringe,
    QueueShot,
    RejectReason,
    Result,
    ShotAccepted,
    ShotFlag,
    ShotRecord,
    ShotRejected,
    ShotResult,
    ShotStatus,
    SoftTrigger,
    StateEvent,
    Telemetry,
    TriggerEvent,
    TriggerMode,
)

S = DeviceState
RR = RejectReason
ON_TRIGGER = TriggerMode.ON_TRIGGER


def test_at_tick_shot_fires_on_the_device_clock(armed: Any) -> None:
    h = armed
    q = h.shot(0, lead_s=0.2)
    h.send(q)
    assert h.msgs(ShotAccepted) == [ShotAccepted(7, 0)]
    h.step(0.19)
    assert h.dev.state is S.ARMED and not h.dev.executed_log
    h.step(0.7)
    res = h.last(ShotResult)
    assert q.fire_tick <= res.start_tick <= q.fire_tick + 2
    assert res.flags == 0 and res.delivered_nl == q.volume_nl
    assert abs(res.reached_depth_um - q.depth_um) <= 10
    assert h.states() == [S.FIRING, S.ARMED]
    log = h.dev.executed_log
    assert len(log) == 1 and log[0].start_tick == res.start_tick and log[0].end_tick == res.end_tick
    st = h.status()
    assert (st.last_index, st.queued, st.session) == (0, 0, 7)
    rec = h.query(GetShot, ShotRecord, session=7, index=0)
    assert rec.status == ShotStatus.DONE
    assert (rec.start_tick, rec.delivered_nl, rec.reached_depth_um, rec.flags) == (
        res.start_tick,
        res.delivered_nl,
        res.reached_depth_um,
        res.flags,
    )


def test_shot_duration_follows_the_motion_profile(armed: Any) -> None:
    from mesosim.physics import move_duration

    h = armed
    cfg = h.dev.config
    q = h.shot(
        0,
        lead_s=0.01,
        depth_um=3000,
        volume_nl=5000,
        flow_nl_s=50_000,
        speed_um_s=20_000,
        dwell_ms=100,
    )
    h.send(q)
    h.step(1.0)
    res = h.last(ShotResult)
    a = cfg.needle_accel_um_s2
    expect_s = (
        move_duration(3000 + cfg.park_um, 20_000, a)
        + 5000 / 50_000
        + 0.1
        + move_duration(3000 + cfg.park_um, cfg.speed_max_um_s, a)
    )
    rate = 1e6 * (1 + cfg.clock_drift_ppm * 1e-6)
    assert (res.end_tick - res.start_tick) / rate == pytest.approx(expect_s, abs=2e-6)


# ---- queue_shot checks, in order (§12.2) -------------------------------------------------
def _reject(h: Any, q: QueueShot) -> RejectReason:
    h.clear()
    h.send(q, check=False)
    rej = h.msgs(ShotRejected)
    assert len(rej) == 1 and not h.msgs(ShotAccepted), h.inbox
    assert (rej[0].session, rej[0].index) == (q.session, q.index)
    return RejectReason(rej[0].reason)


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"nonce": 12345}, RR.STALE_NONCE),
        ({"session": 8}, RR.WRONG_SESSION),
        ({"trigger": 7}, RR.BAD_TRIGGER_MODE),
        ({"depth_um": 799}, RR.DEPTH_OUT_OF_RANGE),  # the default travel: 800–4200 µm
        ({"depth_um": 4201}, RR.DEPTH_OUT_OF_RANGE),
        ({"depth_um": 0}, RR.DEPTH_OUT_OF_RANGE),
        ({"depth_um": 65535}, RR.DEPTH_OUT_OF_RANGE),
        ({"volume_nl": 499}, RR.VOLUME_OUT_OF_RANGE),
        ({"volume_nl": 200_001}, RR.VOLUME_OUT_OF_RANGE),
        ({"volume_nl": 2**32 - 1}, RR.VOLUME_OUT_OF_RANGE),
        ({"flow_nl_s": 999}, RR.FLOW_OUT_OF_RANGE),
        ({"flow_nl_s": 100_001}, RR.FLOW_OUT_OF_RANGE),
        ({"speed_um_s": 4999}, RR.SPEED_OUT_OF_RANGE),
        ({"speed_um_s": 200_001}, RR.SPEED_OUT_OF_RANGE),
        ({"dwell_ms": 3001}, RR.DWELL_OUT_OF_RANGE),
        ({"dwell_ms": 65535}, RR.DWELL_OUT_OF_RANGE),
        ({"lead_s": 3.001}, RR.BEYOND_HORIZON),
        # several violations: the first in the specified order wins
        ({"nonce": 1, "session": 9, "depth_um": 1}, RR.STALE_NONCE),
        ({"session": 9, "depth_um": 1}, RR.WRONG_SESSION),
        ({"trigger": 9, "depth_um": 1, "volume_nl": 1}, RR.BAD_TRIGGER_MODE),
        ({"depth_um": 1, "volume_nl": 1, "flow_nl_s": 1}, RR.DEPTH_OUT_OF_RANGE),
        (
            {"volume_nl": 1, "flow_nl_s": 1, "speed_um_s": 1, "dwell_ms": 9999},
            RR.VOLUME_OUT_OF_RANGE,
        ),
        ({"flow_nl_s": 1, "speed_um_s": 1, "dwell_ms": 9999, "lead_s": 10.0}, RR.FLOW_OUT_OF_RANGE),
        ({"speed_um_s": 1, "dwell_ms": 9999}, RR.SPEED_OUT_OF_RANGE),
        ({"dwell_ms": 9999, "lead_s": 10.0}, RR.DWELL_OUT_OF_RANGE),
    ],
)
def test_rejections(armed: Any, params: dict[str, Any], reason: RejectReason) -> None:
    h = armed
    assert _reject(h, h.shot(3, **params)) is reason
    assert h.dev.state is S.ARMED  # nothing moves, nothing faults
    assert not h.dev.executed_log
    assert h.query(GetShot, ShotRecord, session=params.get("session", 7), index=3).status == (
        ShotStatus.REJECTED
    )


def test_rejection_limits_are_inclusive(armed: Any) -> None:
    h = armed
    cfg = h.dev.config
    for i, p in enumerate(
        [
            {
                "depth_um": cfg.depth_min_um,
                "volume_nl": cfg.volume_min_nl,
                "flow_nl_s": cfg.flow_min_nl_s,
                "speed_um_s": cfg.speed_min_um_s,
                "dwell_ms": 0,
            },
            {
                "depth_um": cfg.depth_max_um,
                "volume_nl": cfg.volume_max_nl,
                "flow_nl_s": cfg.flow_max_nl_s,
                "speed_um_s": cfg.speed_max_um_s,
                "dwell_ms": cfg.dwell_max_ms,
            },
        ]
    ):
        h.send(h.shot(i, trigger=ON_TRIGGER, **p))
    assert len(h.msgs(ShotAccepted)) == 2


def test_index_order(armed: Any) -> None:
    h = armed
    h.send(h.shot(10, trigger=ON_TRIGGER))
    assert _reject(h, h.shot(10, trigger=ON_TRIGGER, depth_um=1500)) is RR.PARAMS_MISMATCH
    assert _reject(h, h.shot(9, trigger=ON_TRIGGER)) is RR.INDEX_ORDER
    assert _reject(h, h.shot(2**32 - 1, trigger=ON_TRIGGER)) is RR.INDEX_ORDER
    h.send(CancelQueue())
    assert _reject(h, h.shot(5, trigger=ON_TRIGGER)) is RR.INDEX_ORDER  # below a cancelled one
    h.clear()
    h.send(h.shot(11, trigger=ON_TRIGGER))
    assert h.msgs(ShotAccepted) == [ShotAccepted(7, 11)]


def test_queue_full(armed: Any) -> None:
    h = armed
    n = h.dev.config.queue_len
    for i in range(n):
        h.send(h.shot(i, trigger=ON_TRIGGER))
    assert len(h.msgs(ShotAccepted)) == n
    assert _reject(h, h.shot(n, trigger=ON_TRIGGER)) is RR.QUEUE_FULL
    assert h.status().queued == n


def test_insufficient_volume_counts_queued_shots(make_host: Any) -> None:
    h = make_host(reload_air_nl=0.0)
    h.connect()
    h.send(LoadSyringe(25_000))
    h.home()
    h.arm()
    h.send(h.shot(0, trigger=ON_TRIGGER))
    h.send(h.shot(1, trigger=ON_TRIGGER))
    assert _reject(h, h.shot(2, trigger=ON_TRIGGER)) is RR.INSUFFICIENT_VOLUME
    h.send(h.shot(3, trigger=ON_TRIGGER, volume_nl=5000))
    assert h.msgs(ShotAccepted) == [ShotAccepted(7, 3)]


def test_too_late_rejects_and_faults(armed: Any) -> None:
    h = armed
    h.send(h.shot(0, trigger=ON_TRIGGER))
    now = h.dev.device_ticks()
    q = h.shot(1, fire_tick=now - 500)
    assert _reject(h, q) is RR.TOO_LATE
    fe = h.last(FaultEvent)
    assert fe.code == Fault.LATE_SHOT and fe.detail >= 500
    assert h.states() == [S.FAULT]
    assert h.query(GetShot, ShotRecord, session=7, index=0).status == ShotStatus.CANCELLED
    # The rejected shot is recorded: a repeat is answered, and does not fault again.
    h.send(ClearFault())
    h.clear()
    h.send(q)
    assert h.msgs(ShotRejected) == [ShotRejected(7, 1, RR.TOO_LATE)]
    assert not h.msgs(FaultEvent)
    assert not h.dev.executed_log


def test_fire_tick_equal_to_now_is_too_late(armed: Any) -> None:
    h = armed
    assert _reject(h, h.shot(0, fire_tick=h.dev.device_ticks())) is RR.TOO_LATE


def _duration_ticks(make_host: Any) -> int:
    h = make_host()
    h.ready_armed()
    h.send(h.shot(0, lead_s=0.05))
    h.step(1.0)
    res = h.last(ShotResult)
    return int(res.end_tick - res.start_tick)


def test_back_to_back_shot_may_start_up_to_2ms_late(make_host: Any) -> None:
    d = _duration_ticks(make_host)
    h = make_host()
    h.ready_armed()
    a = h.shot(0, lead_s=0.05)
    b = h.shot(1, fire_tick=a.fire_tick + d - 1500)  # previous shot still running for 1.5 ms
    h.send(a)
    h.send(b)
    h.step(2.0)
    res = h.msgs(ShotResult)
    assert [r.index for r in res] == [0, 1]
    assert 0 <= res[1].start_tick - b.fire_tick <= 2000
    assert not h.msgs(FaultEvent)


def test_late_start_beyond_2ms_faults_and_never_fires(make_host: Any) -> None:
    d = _duration_ticks(make_host)
    h = make_host()
    h.ready_armed()
    a = h.shot(0, lead_s=0.05)
    b = h.shot(1, fire_tick=a.fire_tick + d - 5000)
    c = h.shot(2, fire_tick=a.fire_tick + d + 200_000)
    for q in (a, b, c):
        h.send(q)
    h.step(2.0)
    fe = h.last(FaultEvent)
    assert fe.code == Fault.LATE_SHOT
    assert 2000 < fe.detail <= 2100
    assert fe.tick == pytest.approx(b.fire_tick + 2001, abs=2)
    res = h.msgs(ShotResult)
    assert [r.index for r in res] == [0]
    assert res[0].flags & ShotFlag.ABORTED  # the running shot is cut short by the safe state
    for i in (1, 2):
        assert h.query(GetShot, ShotRecord, session=7, index=i).status == ShotStatus.CANCELLED
    assert [e.index for e in h.dev.executed_log] == [0]
    assert h.dev.state is S.FAULT


# ---- triggers --------------------------------------------------------------------------------
def test_on_trigger_shots_fire_on_pedal_and_soft_trigger(armed: Any) -> None:
    h = armed
    h.send(h.shot(0, trigger=ON_TRIGGER))
    h.send(h.shot(1, trigger=ON_TRIGGER))
    h.step(1.0)
    assert not h.dev.executed_log  # waits for a trigger
    h.dev.press_trigger()
    h.step(0.01)
    assert len(h.msgs(TriggerEvent)) == 1
    assert h.dev.state is S.FIRING
    h.dev.press_trigger()  # while a shot executes: fires nothing
    h.step(1.0)
    assert len(h.msgs(TriggerEvent)) == 2
    assert [r.index for r in h.msgs(ShotResult)] == [0]
    assert h.status().queued == 1
    h.send(SoftTrigger())
    assert h.replies(SoftTrigger) == [Result.OK]
    h.step(1.0)
    assert [r.index for r in h.msgs(ShotResult)] == [0, 1]
    assert len(h.msgs(TriggerEvent)) == 3
    trig = h.msgs(TriggerEvent)[0]
    assert h.msgs(ShotResult)[0].start_tick == trig.tick


def test_trigger_with_at_tick_head_fires_nothing(armed: Any) -> None:
    h = armed
    h.send(h.shot(0, lead_s=1.0))
    h.dev.press_trigger()
    h.step(0.5)
    assert len(h.msgs(TriggerEvent)) == 1 and not h.dev.executed_log
    h.step(1.0)
    assert len(h.dev.executed_log) == 1


# ---- idempotency (§12.4) -------------------------------------------------------------------
def test_repeat_while_queued_and_after_done(armed: Any) -> None:
    h = armed
    q = h.shot(0, lead_s=0.1)
    h.send(q)
    h.send(q)  # repeat while queued
    assert h.msgs(ShotAccepted) == [ShotAccepted(7, 0)] * 2
    h.step(0.2)
    h.send(q)  # repeat while executing
    assert len(h.msgs(ShotAccepted)) == 3
    h.step(1.0)
    first = h.last(ShotResult)
    h.clear()
    h.send(q)  # repeat when done: accepted + the stored result, no second execution
    assert h.msgs(ShotAccepted) == [ShotAccepted(7, 0)]
    assert h.msgs(ShotResult) == [first]
    h.step(1.0)
    assert len(h.dev.executed_log) == 1
    # Different parameters under the same index: PARAMS_MISMATCH, record unchanged.
    h.clear()
    h.send(h.shot(0, lead_s=0.1, volume_nl=20_000))
    assert h.msgs(ShotRejected) == [ShotRejected(7, 0, RR.PARAMS_MISMATCH)]
    rec = h.query(GetShot, ShotRecord, session=7, index=0)
    assert rec.status == ShotStatus.DONE and rec.delivered_nl == first.delivered_nl
    assert len(h.dev.executed_log) == 1


def test_repeat_of_rejected_and_cancelled(armed: Any) -> None:
    h = armed
    bad = h.shot(0, trigger=ON_TRIGGER, depth_um=5000)
    assert _reject(h, bad) is RR.DEPTH_OUT_OF_RANGE
    assert _reject(h, bad) is RR.DEPTH_OUT_OF_RANGE
    q = h.shot(1, trigger=ON_TRIGGER)
    h.send(q)
    h.send(CancelQueue())
    assert _reject(h, q) is RR.CANCELLED  # a cancelled index never runs in this boot
    h.dev.press_trigger()
    h.step(1.0)
    assert not h.dev.executed_log


def test_a_session_id_is_armed_once_per_boot_and_repeats_survive_rearming(armed: Any) -> None:
    h = armed
    q = h.shot(0, lead_s=0.05)
    h.send(q)
    h.step(1.0)
    h.send(Disarm())
    h.step(0.01)
    h.clear()
    h.send(Arm(h.nonce, 7, 0))  # the id of the session just ended: another host's shots
    assert h.replies(Arm) == [Result.SESSION_USED] and h.dev.state is S.READY
    h.arm(session=8)
    h.clear()
    h.send(q)  # session 7's index 0 again: answered from the record, never executed again
    assert h.msgs(ShotAccepted) == [ShotAccepted(7, 0)] and len(h.msgs(ShotResult)) == 1
    h.step(1.0)
    assert len(h.dev.executed_log) == 1


def test_shot_book_keeps_at_least_4096_records() -> None:
    book = ShotBook()
    base = QueueShot(1, 1, 0, 0, 0, 2000, 1000, 1000, 5000, 0)
    n = RECORDS_KEPT + 100
    for i in range(n):
        book.add(BookRecord(base.__class__(**{**base.as_dict(), "index": i}), ShotStatus.DONE))
    assert RECORDS_KEPT >= 4096
    assert len(book) == RECORDS_KEPT
    assert book.get(1, 99) is None and book.get(1, 100) is not None
    assert book.get(1, n - 1) is not None
    assert 1 not in book.max_index  # only QUEUED records raise the index floor
    live = BookRecord(base, ShotStatus.QUEUED)
    book2 = ShotBook(keep=3)
    book2.add(live)
    for i in range(1, 10):
        book2.add(BookRecord(QueueShot(1, 1, i, 0, 0, 2000, 1000, 1000, 5000, 0), ShotStatus.DONE))
    assert book2.get(1, 0) is live  # a queued record is never evicted


def test_get_shot_of_many_rejections(armed: Any) -> None:
    h = armed
    for i in range(300):
        h.send(h.shot(i, trigger=ON_TRIGGER, depth_um=50), check=False)
    assert h.query(GetShot, ShotRecord, session=7, index=0).status == ShotStatus.REJECTED
    # never received in this boot, and nothing of session 7 was evicted: a proof, not a guess
    assert h.query(GetShot, ShotRecord, session=7, index=300).status == ShotStatus.NEVER_RAN


# ---- dead-man (§11) ------------------------------------------------------------------------
def test_dead_man_trips_after_250ms_of_silence(armed: Any) -> None:
    h = armed
    h.send(h.shot(0, lead_s=0.01))
    h.send(h.shot(1, lead_s=2.0))
    h.keepalive = False
    h.step(0.2)
    assert h.dev.state is S.FIRING
    last_tx = h.last_tx  # the host's last frame: its ack of the FIRING state_event
    h.step(0.1)
    fe = h.last(FaultEvent)
    assert fe.code == Fault.LINK_LOST and fe.detail == 250
    (t_fault,) = [t for t, m in h.timed(FaultEvent)]
    assert t_fault == pytest.approx(last_tx + 0.25, abs=1e-9)
    res = h.last(ShotResult)
    assert res.index == 0 and res.flags & ShotFlag.ABORTED
    assert h.states() == [S.FIRING, S.FAULT]
    assert h.query(GetShot, ShotRecord, session=7, index=1).status == ShotStatus.CANCELLED
    h.step(0.05)
    assert h.dev.true_needle_um < 0


@pytest.mark.parametrize("silence_s", [0.12, 0.2, 0.24])
def test_no_shot_starts_after_a_heartbeat_interval_of_host_silence(armed: Any, silence_s: float) -> None:
    """Issue 8, defect 7: a host that froze must not see shots start during the dead-man's
    250 ms: past one heartbeat interval (100 ms) of silence the device goes safe instead."""
    h = armed
    h.send(h.shot(0, lead_s=silence_s))  # due after the host has been silent that long
    h.keepalive = False
    last_tx = h.last_tx
    h.step(silence_s + 0.01)
    assert not h.dev.executed_log  # nothing started: the needle never moved
    fe = h.last(FaultEvent)
    assert fe.code == Fault.LINK_LOST and fe.detail > 100
    (t_fault,) = [t for t, m in h.timed(FaultEvent)]
    assert t_fault - last_tx < 0.25  # earlier than the dead-man itself
    assert h.query(GetShot, ShotRecord, session=h.session, index=0).status == ShotStatus.CANCELLED


def test_dead_man_fed_by_heartbeats_and_not_by_garbage(armed: Any) -> None:
    h = armed
    h.keepalive = False
    for _ in range(30):  # 3 s of heartbeats every 100 ms
        h.step(0.1)
        h.send(Heartbeat())
    assert h.dev.state is S.ARMED
    for _ in range(3):  # invalid frames (bad CRC) do not feed the dead-man
        h.step(0.1)
        h.send_raw(b"\x05\x01\x02\x03\x04\x00")
    assert h.dev.state is S.FAULT
    assert h.last(FaultEvent).code == Fault.LINK_LOST


def test_dead_man_inactive_when_not_armed(host: Any) -> None:
    host.enter(S.READY)
    host.keepalive = False
    host.step(2.0)
    assert host.dev.state is S.READY


def test_link_sync_while_armed_does_not_disarm(armed: Any) -> None:
    h = armed
    h.connect()
    assert h.dev.state is S.ARMED
    h.keepalive = False
    h.step(0.3)
    assert h.dev.state is S.FAULT


# ---- telemetry (§13) -------------------------------------------------------------------------
def test_telemetry_while_armed(make_host: Any) -> None:
    h = make_host()
    h.ready_armed(telemetry_ms=20)
    h.send(h.shot(0, lead_s=0.1))
    h.step(1.0)
    tel = h.msgs(Telemetry)
    assert 49 <= len(tel) <= 51
    assert {m.state for m in tel} == {S.ARMED, S.FIRING}
    assert max(m.needle_um for m in tel) > 1500
    assert max(m.pressure_pa for m in tel) > 20_000
    ticks = [m.tick for m in tel]
    assert all(b > a for a, b in itertools.pairwise(ticks))
    h.send(Disarm())
    h.clear()
    h.step(0.5)
    assert not h.msgs(Telemetry)


# ---- reboot (§12.4, §14) -----------------------------------------------------------------------
def test_reboot_forgets_everything_and_refuses_old_nonce(armed: Any) -> None:
    h = armed
    old = h.nonce
    old_q = h.shot(0, lead_s=0.5)
    h.send(old_q)
    h.send(h.shot(1, trigger=ON_TRIGGER))
    h.dev.power_cycle()
    new = h.nonce
    assert new not in (0, old)
    h.step(h.dev.config.boot_time_s + 0.01)
    assert h.last(BootEvent).boot_nonce == new
    assert h.connect().boot_nonce == new
    st = h.status()
    assert (st.state, st.homed, st.session, st.queued, st.last_index) == (
        S.IDLE,
        0,
        0,
        0,
        0xFFFFFFFF,
    )
    assert h.query(GetShot, ShotRecord, session=7, index=0).status == ShotStatus.NEVER_RAN
    # the old boot's journal: shot 1 was only queued when the power failed, so it never ran
    rec = h.query(GetShot, ShotRecord, shot_boot=old, session=7, index=1)
    assert (rec.boot_nonce, rec.shot_boot, rec.status) == (new, old, ShotStatus.NEVER_RAN)
    assert h.query(GetShot, ShotRecord, shot_boot=old ^ 0x5A5A, session=7, index=1).status == ShotStatus.UNKNOWN
    h.home()
    h.clear()
    h.send(Arm(old, 7, 0))
    assert h.replies(Arm) == [Result.STALE_NONCE]
    h.arm(session=7)
    h.send(old_q)
    assert h.last(ShotRejected).reason == RR.STALE_NONCE
    h.dev.press_trigger()
    h.step(1.0)
    assert not h.dev.executed_log  # nothing queued before the reboot ever ran


def test_bytes_sent_while_rebooting_are_lost(armed: Any) -> None:
    h = armed
    h.dev.power_cycle()
    h.send(SoftTrigger())
    assert not h.msgs(StateEvent) and h.dev.state is S.BOOT
    h.step(0.2)
    assert h.dev.state is S.IDLE


def test_clock_restarts_at_boot(make_host: Any) -> None:
    h = make_host(boot_time_s=0.0)
    h.step(5.0)
    t1 = h.ticks()
    h.dev.power_cycle()
    h.connect()
    t2 = h.ticks()
    assert t2 < t1 and t2 == h.dev.config.clock_offset_ticks


# ---- determinism --------------------------------------------------------------------------------
def _script(make_host: Any, seed: int) -> tuple[bytes, list[Any]]:
    cfg = SimConfig(seed=seed, shot_faults=((3, "air"), (6, "stall"), (9, "reboot")))
    h = make_host(cfg)
    h.ready_armed(telemetry_ms=25)
    index = 0
    for round_ in range(12):
        q = h.shot(index, lead_s=0.05, volume_nl=3000 + 1000 * (round_ % 4))
        index += 1
        h.send(q)
        h.status()
        h.step(0.45)
        if h.dev.state is S.FAULT:
            h.send(ClearFault())
            h.home()
            h.arm(telemetry_ms=25)
        elif h.dev.state is S.BOOT or h.dev.state is S.IDLE:
            h.step(0.2)
            h.connect()
            h.home()
            h.arm(telemetry_ms=25)
            index = 0
    return bytes(h.wire), h.dev.executed_log


def test_same_seed_gives_identical_bytes(make_host: Any) -> None:
    a, log_a = _script(make_host, 3)
    b, log_b = _script(make_host, 3)
    assert a == b
    assert log_a == log_b
    assert len(log_a) >= 9 and any(e.power_lost for e in log_a)
    c, _ = _script(make_host, 4)
    assert c != a


def test_boot_nonce_depends_on_seed() -> None:
    from mesosim import SimDevice

    def nonce(seed: int) -> int:
        return SimDevice(SimConfig(seed=seed, reproducible=True)).boot_nonce

    assert nonce(1) == nonce(1) and nonce(1) != nonce(2)


def test_every_simulator_instance_is_a_new_boot_by_default() -> None:
    """Two simulators with one seed (the built-in one started again after a host crash) must
    not look like one boot: same nonce and clock would let the host trust a stranger's records."""
    from mesosim import SimDevice

    a, b = SimDevice(SimConfig(seed=1)), SimDevice(SimConfig(seed=1))
    assert a.boot_nonce != b.boot_nonce
    assert a.device_ticks != b.device_ticks


def test_arm_resets_nothing_of_other_sessions(armed: Any) -> None:
    h = armed
    h.send(h.shot(5, lead_s=0.05))
    h.step(1.0)
    h.send(Disarm())
    h.arm(session=8)
    h.send(h.shot(0, lead_s=0.05, session=8))  # index order is per session
    h.step(1.0)
    assert [(e.session, e.index) for e in h.dev.executed_log] == [(7, 5), (8, 0)]
    assert h.status().last_index == 0


# ---- the host's silence in time-warped real time (README "Real time") ---------------------
@pytest.mark.parametrize("strict", [False, True])
def test_warped_real_time_judges_the_hosts_silence_on_the_wall_clock(
        make_host: Any, strict: bool) -> None:
    """At speed 10 a host silent for 1 simulated second was silent 100 ms of wall time: within
    the protocol's windows for a real host, so the device stays armed and the shot runs —
    unless `warp_watchdogs_in_sim_time` asks for the strict reading (the protocol's windows in
    simulated time), where the same silence is a LINK_LOST before the needle moves."""
    h = make_host(realtime=True, speed=10.0, warp_watchdogs_in_sim_time=strict)
    h.ready_armed()
    h.send(h.shot(0, lead_s=0.9))  # due after 0.9 simulated s without a host frame
    h.keepalive = False
    h.step(1.0)
    if strict:
        assert not h.dev.executed_log
        assert h.last(FaultEvent).code == Fault.LINK_LOST
    else:
        assert [e.index for e in h.dev.executed_log] == [0]
        assert h.dev.state in (S.ARMED, S.FIRING)
    h.step(4.0)  # > 2.5 s simulated after the host's last frame (an ack): 250 ms of wall time
    assert h.last(FaultEvent).code == Fault.LINK_LOST
    assert h.dev.state is S.FAULT
