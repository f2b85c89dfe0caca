"""The Injector session against the simulator over the in-process sim:// serial URL."""

from __future__ import annotations

import threading
import time

import pytest

from mesodrive.driver import injector as session_mod
from mesodrive.driver.errors import CommandRefused, HandshakeRefused, ShotBlocked
from mesodrive.driver.events import StateChanged
from mesodrive.driver.injector import Injector
from mesodrive.driver.shots import ShotState
from mesodrive.protocol.messages import SCHEMA_HASH, DeviceState, Fault, ShotFlag
from tests.driver.conftest import Journal, executed, fast_shot, ready, sim_port


def test_connect_exposes_identity_capabilities_and_clock(connect) -> None:  # type: ignore[no-untyped-def]
    inj = connect()
    ident = inj.identity
    assert ident.schema_hash == SCHEMA_HASH and ident.serial
    assert ident.depth_min_um >= 500 and ident.depth_max_um <= 4500  # the protocol's range
    assert inj.state in (DeviceState.IDLE, DeviceState.READY)
    est = inj.clock.estimate
    assert est is not None and est.samples >= 4
    # the estimate tracks the device clock to well within a millisecond over the in-process link
    truth = sim_port(inj).sim_call(lambda d: d.device_ticks())
    assert abs(inj.device_now() - truth / 1e6) < 0.005


def test_handshake_refuses_a_foreign_schema_naming_both(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(session_mod, "SCHEMA_HASH", SCHEMA_HASH ^ 1)
    with pytest.raises(HandshakeRefused) as err:
        Injector.connect("sim://?seed=1&realtime=1")
    assert f"{SCHEMA_HASH:#018x}" in str(err.value) and f"{SCHEMA_HASH ^ 1:#018x}" in str(err.value)


def test_three_timed_shots_execute_once_each_on_the_device_clock(connect, journal: Journal) -> None:  # type: ignore[no-untyped-def]
    inj = connect()
    ready(inj)
    start = inj.device_now() + 0.2
    for i in range(3):
        inj.queue_shot(fast_shot(i, start + i * 0.25))
    shots = [inj.wait_shot(1, i, timeout=5) for i in range(3)]
    assert [s.state for s in shots] == [ShotState.DONE] * 3
    for i, s in enumerate(shots):
        assert s.outcome is not None
        assert abs(s.outcome.start_at - (start + i * 0.25)) <= 0.002  # fired on time
    log = executed(inj)
    assert sorted((e.session, e.index) for e in log) == [(1, 0), (1, 1), (1, 2)]
    # the journal saw each shot before it was sent (first entry PENDING) and its final state
    first = {}
    for e in journal.entries:
        first.setdefault(e.index, e.state)
    assert first == {0: ShotState.PENDING, 1: ShotState.PENDING, 2: ShotState.PENDING}
    assert all(s.state is ShotState.DONE for s in journal.latest().values())


def test_a_journal_failure_means_the_shot_is_not_sent(connect) -> None:  # type: ignore[no-untyped-def]
    def broken(_: object) -> None:
        raise OSError("disk full")

    inj = connect(journal=None)
    ready(inj)
    inj.journal = broken
    with pytest.raises(OSError, match="disk full"):
        inj.queue_shot(fast_shot(0, inj.device_now() + 0.2))
    time.sleep(0.4)
    assert executed(inj) == []


def test_the_same_index_is_never_sent_twice(connect) -> None:  # type: ignore[no-untyped-def]
    inj = connect()
    ready(inj)
    inj.queue_shot(fast_shot(0, inj.device_now() + 0.2))
    with pytest.raises(ShotBlocked, match="already sent"):
        inj.queue_shot(fast_shot(0, inj.device_now() + 0.4))


def test_out_of_range_request_is_refused_before_anything_is_sent(connect, journal: Journal) -> None:  # type: ignore[no-untyped-def]
    inj = connect()
    ready(inj)
    with pytest.raises(ShotBlocked, match="depth_um = 4500"):
        inj.queue_shot(fast_shot(0, inj.device_now() + 0.2, depth_mm=4.5))
    assert journal.entries == []


def test_a_late_shot_is_refused_by_the_host_and_never_sent(connect) -> None:  # type: ignore[no-untyped-def]
    from mesodrive.driver.errors import ShotTooLate

    inj = connect()
    ready(inj)
    with pytest.raises(ShotTooLate):
        inj.queue_shot(fast_shot(0, inj.device_now() - 0.05))
    assert inj.shot(1, 0).state is ShotState.NOT_RECEIVED
    assert inj.status().state == DeviceState.ARMED
    assert executed(inj) == []


def test_late_shot_is_rejected_by_the_device_too_and_faults_never_executes_late(connect) -> None:  # type: ignore[no-untyped-def]
    inj = connect()
    ready(inj)
    inj._earliest_safe_tick = lambda: 0  # type: ignore[method-assign]  # a host without the guard
    shot = inj.queue_shot(fast_shot(0, inj.device_now() - 0.05))
    final = inj.wait_shot(1, shot.index, timeout=3)
    assert final.state is ShotState.REJECTED and final.reason == "TOO_LATE"
    inj.wait_state(DeviceState.FAULT, timeout=2)
    assert inj.faults & (1 << (Fault.LATE_SHOT - 1))
    assert executed(inj) == []


def test_estop_while_firing_latches_and_refuses_commands(connect) -> None:  # type: ignore[no-untyped-def]
    inj = connect()
    ready(inj)
    slow = fast_shot(0, inj.device_now() + 0.1)
    slow = type(slow)(**{**slow.__dict__, "volume_ul": 20.0, "flow_ul_s": 10.0})  # ~2 s of dispensing
    inj.queue_shot(slow)
    inj.queue_shot(fast_shot(1, inj.device_now() + 2.5))  # inside the 3 s horizon, with margin
    inj.wait_state(DeviceState.FIRING, timeout=2)
    time.sleep(0.2)
    latency = inj.estop()
    assert latency < 0.5
    assert inj.status().state == DeviceState.ESTOPPED
    first = inj.wait_shot(1, 0, timeout=3)
    assert first.state is ShotState.DONE and first.outcome.flags & ShotFlag.ABORTED
    assert first.outcome.delivered_ul < 20.0
    assert inj.wait_shot(1, 1, timeout=3).state is ShotState.CANCELLED
    with pytest.raises(CommandRefused, match="ESTOPPED"):
        inj.home()
    assert [e.index for e in executed(inj)] == [0]
    inj.clear_fault()
    inj.wait_state(DeviceState.IDLE, timeout=2)


def test_estop_from_another_thread_is_bounded(connect) -> None:  # type: ignore[no-untyped-def]
    inj = connect()
    ready(inj)
    result: list[float] = []
    t = threading.Thread(target=lambda: result.append(inj.estop()))
    t.start()
    t.join(timeout=2)
    assert result and result[0] < 0.5


def test_observers_see_state_changes_and_a_failing_observer_breaks_nothing(connect) -> None:  # type: ignore[no-untyped-def]
    inj = connect()
    seen: list[object] = []
    inj.subscribe(lambda e: (_ for _ in ()).throw(RuntimeError("observer bug")))
    inj.subscribe(seen.append)
    ready(inj)
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and not any(
        isinstance(e, StateChanged) and e.state == DeviceState.ARMED for e in seen
    ):
        time.sleep(0.01)
    assert any(isinstance(e, StateChanged) and e.state == DeviceState.ARMED for e in seen)


def test_reboot_settles_open_shots_from_the_device_journal_and_nothing_is_resent(connect, journal: Journal) -> None:  # type: ignore[no-untyped-def]
    inj = connect("seed=2&faults=reboot@2")
    ready(inj)
    start = inj.device_now() + 0.2
    for i, offset in enumerate((0, 0.25, 0.5, 2.5)):
        inj.queue_shot(fast_shot(i, start + offset))
    states = {i: inj.wait_shot(1, i, timeout=5).state for i in range(4)}
    assert inj.rebooted
    assert states[0] is ShotState.DONE
    assert states[1] is ShotState.UNCERTAIN  # the power failed during it
    assert "power was lost while it executed" in inj.shot(1, 1).reason
    # queued when the power failed: the new boot's journal proves they never moved
    assert states[2] is ShotState.CANCELLED and states[3] is ShotState.CANCELLED
    assert "rebooted before it started" in inj.shot(1, 3).reason
    assert all(e.index in (0, 1) for e in executed(inj))  # nothing after the reboot
    with pytest.raises(ShotBlocked):
        inj.queue_shot(fast_shot(4, 10**12))  # not armed in the new boot


def test_a_shot_whose_recording_outlasts_its_lead_is_never_sent(connect) -> None:  # type: ignore[no-untyped-def]
    from mesodrive.driver.errors import ShotTooLate

    seen: list[ShotState] = []

    def slow_disk(shot) -> None:  # type: ignore[no-untyped-def]
        seen.append(shot.state)
        if shot.state is ShotState.PENDING:
            time.sleep(0.3)  # a durable write slower than the shot's lead

    inj = connect(journal=None)
    ready(inj)
    inj.journal = slow_disk
    with pytest.raises(ShotTooLate):
        inj.queue_shot(fast_shot(0, inj.device_now() + 0.1))
    assert seen == [ShotState.PENDING, ShotState.NOT_RECEIVED]
    time.sleep(0.3)
    assert executed(inj) == []
    assert inj.status().state == DeviceState.ARMED  # no LATE_SHOT fault: it never reached the device
