"""Device states and the command table (PROTOCOL.md §7, §10), through the wire only."""

from __future__ import annotations

from typing import Any

import pytest

from mesodrive.protocol.message_base import Message
from mesodrive.protocol.messages import (
    Arm,
    CancelQueue,
    ClearFault,
    ClockQuery,
    ClockReply,
    CommandReply,
    DeviceState,
    Disarm,
    Estop,
    Fault,
    FaultEvent,
    GetShot,
    Home,
    Identify,
    Identity,
    LinkSync,
    LinkSyncReply,
    LoadSyringe,
    Prime,
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
    StatusQuery,
    StatusReply,
    TriggerMode,
)

S = DeviceState
R = Result
ALL = [S.IDLE, S.HOMING, S.READY, S.PRIMING, S.ARMED, S.FIRING, S.FAULT, S.ESTOPPED]


def _expected(command: str, state: DeviceState) -> Result:
    """PROTOCOL.md §10 table; ESTOPPED answers ESTOPPED (§7), FAULT answers FAULT_ACTIVE."""
    accepted = {
        "home": {S.IDLE, S.READY},
        "prime": {S.READY},
        "arm": {S.READY},
        "disarm": {S.ARMED, S.FIRING},
        "cancel_queue": set(ALL) - {S.ESTOPPED},
        "clear_fault": set(ALL),
        "soft_trigger": {S.ARMED, S.FIRING},
        "load_syringe": {S.IDLE, S.READY, S.FAULT},
    }[command]
    if state in accepted:
        return R.OK
    if state is S.ESTOPPED:
        return R.ESTOPPED
    if state is S.FAULT:
        return R.FAULT_ACTIVE
    if command in ("prime", "arm") and state is S.IDLE:
        return R.NOT_HOMED
    return R.ILLEGAL_STATE


def _command(host: Any, name: str) -> Message:
    return {
        "home": Home(),
        "prime": Prime(1000, 10_000),
        "arm": Arm(host.nonce, 9, 0),
        "disarm": Disarm(),
        "cancel_queue": CancelQueue(),
        "clear_fault": ClearFault(),
        "soft_trigger": SoftTrigger(),
        "load_syringe": LoadSyringe(5_000_000),
    }[name]


COMMANDS = [
    "home",
    "prime",
    "arm",
    "disarm",
    "cancel_queue",
    "clear_fault",
    "soft_trigger",
    "load_syringe",
]


@pytest.mark.parametrize("state", ALL, ids=lambda s: s.name)
def test_command_table(make_host: Any, state: DeviceState) -> None:
    """Every command in every state gets the specified reply; a refusal changes nothing."""
    for name in COMMANDS:
        h = make_host()
        h.enter(state)
        before = h.status()
        msg = _command(h, name)
        h.send(msg)
        codes = h.replies(type(msg))
        expected = _expected(name, state)
        assert codes == [expected], (name, state.name, [Result(c).name for c in codes])
        if expected is not R.OK:
            after = h.status()
            assert h.dev.state is state
            assert h.msgs(StateEvent) == []
            for f in ("state", "homed", "faults", "session", "queued", "remaining_nl"):
                assert getattr(after, f) == getattr(before, f), (name, f)


@pytest.mark.parametrize("state", ALL, ids=lambda s: s.name)
def test_queue_shot_in_every_state(make_host: Any, state: DeviceState) -> None:
    h = make_host()
    h.enter(state)
    q = h.shot(5, trigger=TriggerMode.ON_TRIGGER)
    h.send(q)
    if state in (S.ARMED, S.FIRING):
        assert h.msgs(ShotAccepted) == [ShotAccepted(7, 5)]
    else:
        reason = {S.FAULT: RejectReason.FAULT_ACTIVE, S.ESTOPPED: RejectReason.ESTOPPED}.get(
            state, RejectReason.NOT_ARMED
        )
        assert h.msgs(ShotRejected) == [ShotRejected(7, 5, reason)]


@pytest.mark.parametrize("state", ALL, ids=lambda s: s.name)
def test_queries_answered_in_every_state(make_host: Any, state: DeviceState) -> None:
    h = make_host()
    h.enter(state)
    assert h.query(Identify, Identity).boot_nonce == h.nonce
    st = h.query(StatusQuery, StatusReply)
    assert st.state == state
    assert h.query(ClockQuery, ClockReply).ticks >= st.ticks
    rec = h.query(GetShot, ShotRecord, session=1, index=12345)
    assert rec.status == ShotStatus.NEVER_RAN  # this boot never received it
    rec = h.query(GetShot, ShotRecord, shot_boot=h.nonce ^ 1, session=1, index=12345)
    assert (rec.status, rec.shot_boot) == (ShotStatus.UNKNOWN, h.nonce ^ 1)  # no such boot known
    assert h.query(LinkSync, LinkSyncReply).boot_nonce == h.nonce
    assert h.dev.state is state


def test_home_goes_through_homing_to_ready(host: Any) -> None:
    host.connect()
    assert host.status().homed == 0
    host.send(Home())
    assert host.replies(Home) == [R.OK]
    assert host.dev.state is S.HOMING
    host.step(host.dev.config.homing_s + 0.01)
    assert host.states() == [S.HOMING, S.READY]
    st = host.status()
    assert (st.state, st.homed, st.needle_um) == (S.READY, 1, -1500)


def test_prime_dispenses_and_returns_to_ready(host: Any) -> None:
    cfg = host.dev.config
    host.enter(S.READY)
    v0 = host.dev.true_dispensed_nl
    host.send(Prime(20_000, 10_000))
    assert host.replies(Prime) == [R.OK]
    assert host.dev.state is S.PRIMING
    host.step(2.1)
    assert host.states() == [S.PRIMING, S.READY]
    st = host.status()
    assert st.plunger_nl == 20_000
    assert st.remaining_nl == cfg.syringe_nl - 20_000
    true = host.dev.true_dispensed_nl - v0
    assert true == pytest.approx(20_000 * cfg.volume_gain + cfg.volume_offset_nl, rel=0.02)


def test_prime_refusals(make_host: Any) -> None:
    h = make_host()
    h.enter(S.READY)
    h.send(Prime(1000, 10), check=False)  # flow below the device's minimum
    h.send(Prime(2_000_000, 10_000), check=False)  # volume above the catalogue range
    h.send(LoadSyringe(5000))
    h.send(Prime(6000, 10_000))
    assert h.replies(Prime) == [R.OUT_OF_RANGE, R.OUT_OF_RANGE, R.NO_SYRINGE]
    assert h.dev.state is S.READY


def test_load_syringe(make_host: Any) -> None:
    h = make_host()
    h.enter(S.READY)
    h.send(LoadSyringe(h.dev.config.syringe_nl + 1), check=False)
    h.send(LoadSyringe(3_000_000))
    assert h.replies(LoadSyringe) == [R.OUT_OF_RANGE, R.OK]
    st = h.status()
    assert (st.remaining_nl, st.plunger_nl) == (3_000_000, 0)
    assert h.dev.true_syringe_nl == 3_000_000


def test_arm_rejects_stale_nonce_and_session_zero(make_host: Any) -> None:
    h = make_host()
    h.enter(S.READY)
    h.send(Arm(h.nonce ^ 1, 3, 0))
    h.send(Arm(h.nonce, 0, 0), check=False)
    assert h.replies(Arm) == [R.STALE_NONCE, R.OUT_OF_RANGE]
    assert h.dev.state is S.READY


def test_disarm_while_firing_waits_for_the_shot(make_host: Any) -> None:
    h = make_host()
    h.enter(S.ARMED)
    h.send(h.shot(0, lead_s=0.01))
    h.send(h.shot(1, lead_s=2.0))
    h.step(0.02)
    assert h.dev.state is S.FIRING
    h.send(Disarm())
    assert h.replies(Disarm) == [R.OK]
    assert h.dev.state is S.FIRING  # the shot in progress finishes
    h.send(h.shot(2, trigger=TriggerMode.ON_TRIGGER))
    assert h.last(ShotRejected).reason == RejectReason.NOT_ARMED
    h.step(1.0)
    assert h.dev.state is S.READY
    assert h.states()[-1] is S.READY
    assert [r.index for r in h.msgs(ShotResult)] == [0]
    assert h.msgs(ShotResult)[0].flags == 0
    assert h.query(GetShot, ShotRecord, session=7, index=1).status == ShotStatus.CANCELLED
    st = h.status()
    assert (st.session, st.queued, st.last_index) == (0, 0, 0)


def test_cancel_queue(make_host: Any) -> None:
    h = make_host()
    h.enter(S.ARMED)
    for i in range(3):
        h.send(h.shot(i, trigger=TriggerMode.ON_TRIGGER))
    assert h.status().queued == 3
    h.send(CancelQueue())
    assert h.replies(CancelQueue) == [R.OK]
    assert h.status().queued == 0
    for i in range(3):
        assert h.query(GetShot, ShotRecord, session=7, index=i).status == ShotStatus.CANCELLED
    assert h.dev.state is S.ARMED


# ---- e-stop (§7) --------------------------------------------------------------------------
def test_estop_during_shot_latches(make_host: Any) -> None:
    h = make_host()
    h.enter(S.ARMED)
    h.send(h.shot(0, lead_s=0.01))
    h.send(h.shot(1, lead_s=1.5))
    h.step(0.2)  # shot 0 dispensing
    assert h.dev.state is S.FIRING
    token = h.token()
    h.send(Estop(token))
    replies = [m for m in h.msgs(StatusReply) if m.token == token]
    assert len(replies) == 1 and replies[0].state == S.ESTOPPED
    res = h.last(ShotResult)
    assert res.index == 0 and res.flags & ShotFlag.ABORTED
    assert 0 < res.delivered_nl < 10_000
    assert h.last(FaultEvent).code == Fault.ESTOP
    assert h.states()[-1] is S.ESTOPPED
    assert h.status().faults & (1 << (Fault.ESTOP - 1))
    assert h.query(GetShot, ShotRecord, session=7, index=1).status == ShotStatus.CANCELLED
    h.step(0.05)
    assert h.dev.true_needle_um < 0  # retracted
    assert h.dev.true_pressure_pa < 100_000

    # A repeated e-stop changes nothing and is answered again.
    n_events = len(h.msgs(StateEvent)) + len(h.msgs(FaultEvent))
    token2 = h.token()
    h.send(Estop(token2))
    assert [m.state for m in h.msgs(StatusReply) if m.token == token2] == [S.ESTOPPED]
    assert len(h.msgs(StateEvent)) + len(h.msgs(FaultEvent)) == n_events

    # Only the listed messages are accepted while latched.
    h.clear()
    h.send(Home())
    h.send(Arm(h.nonce, 8, 0))
    h.send(SoftTrigger())
    h.send(Disarm())
    h.send(CancelQueue())
    h.send(LoadSyringe(1000))
    h.send(Prime(1000, 10_000))
    codes = [m.code for m in h.msgs(CommandReply)]
    assert codes == [R.ESTOPPED] * 7
    h.send(h.shot(2, trigger=TriggerMode.ON_TRIGGER))
    assert h.last(ShotRejected).reason == RejectReason.ESTOPPED
    h.step(0.5)  # heartbeats are accepted; nothing else happens
    assert h.dev.state is S.ESTOPPED

    # clear_fault leaves ESTOPPED for IDLE with homed = 0.
    h.clear()
    h.send(ClearFault())
    assert h.replies(ClearFault) == [R.OK]
    st = h.status()
    assert (st.state, st.homed, st.faults) == (S.IDLE, 0, 0)
    h.home()
    h.arm(session=8)


def test_estop_is_processed_before_sequencing(make_host: Any) -> None:
    """An e-stop acts even while a sequenced frame is missing (out-of-order frames held back)."""
    h = make_host()
    h.enter(S.ARMED)
    h.send(h.shot(0, trigger=TriggerMode.ON_TRIGGER))
    # Host sends two sequenced frames, the first is lost on the wire.
    h.ep.send(h.shot(1, trigger=TriggerMode.ON_TRIGGER))
    h.ep.send(h.shot(2, trigger=TriggerMode.ON_TRIGGER))
    frames = h.ep.poll(h.t).split(b"\0")[:-1]
    assert len(frames) == 2
    h.send_raw(frames[1] + b"\0")  # arrives early: not delivered
    assert h.status().queued == 1
    h.send(Estop(h.token()))
    assert h.dev.state is S.ESTOPPED
    assert h.query(GetShot, ShotRecord, session=7, index=0).status == ShotStatus.CANCELLED


def test_estop_from_idle_and_pedal_while_estopped(make_host: Any) -> None:
    h = make_host()
    h.enter(S.IDLE)
    h.send(Estop(h.token()))
    assert h.dev.state is S.ESTOPPED
    h.dev.press_trigger()
    h.step(0.01)
    assert h.dev.state is S.ESTOPPED


def test_faults_leave_armed_for_fault_and_clear_fault_needs_homing(make_host: Any) -> None:
    h = make_host()
    h.enter(S.FAULT)
    st = h.status()
    assert st.state == S.FAULT and st.faults == 1 << (Fault.LINK_LOST - 1)
    assert st.session == 0
    h.send(ClearFault())
    assert h.dev.state is S.IDLE
    assert h.status().homed == 0
    h.send(Arm(h.nonce, 1, 0))
    assert h.replies(Arm) == [R.NOT_HOMED]


def test_refused_queue_shot_in_fault_records_reason(make_host: Any) -> None:
    h = make_host()
    h.enter(S.FAULT)
    q = h.shot(0, trigger=TriggerMode.ON_TRIGGER)
    h.send(q)
    h.send(q)  # a repeat is answered from the record
    assert [m.reason for m in h.msgs(ShotRejected)] == [RejectReason.FAULT_ACTIVE] * 2
    assert h.query(GetShot, ShotRecord, session=7, index=0).status == ShotStatus.REJECTED


def test_queue_shot_message_with_all_fields(host: Any) -> None:
    # Guard against the helper drifting from the catalogue.
    q = host.shot(0)
    assert isinstance(q, QueueShot)
    q.check()
