"""Shot outcomes that are certain (issue 8): reboots the host did not hear of, devices with and
without a non-volatile journal, session ids, liveness. The simulator's executed-shot log is the
truth every test compares with."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from mesodrive.driver.errors import CommandRefused, DeviceTimeout, ShotBlocked
from mesodrive.driver.injector import Injector
from mesodrive.driver.shots import ShotState
from mesodrive.protocol.messages import DeviceState, Fault, Result
from tests.driver.conftest import device_truth, executed, fast_shot, ready

NEVER_RAN = (ShotState.CANCELLED, ShotState.NOT_RECEIVED, ShotState.REJECTED)


def _wait_all(inj: Injector, session: int, n: int, timeout: float = 8.0) -> dict[int, ShotState]:
    return {i: inj.wait_shot(session, i, timeout=timeout).state for i in range(n)}


def _agree_with_truth(inj: Injector) -> list[tuple[int, int]]:
    """The three promises, against the device's own log; returns the executed keys."""
    truth = [(e.session, e.index) for e in executed(inj)]
    assert len(truth) == len(set(truth)), f"a shot executed twice: {truth}"
    host = {(s.session, s.index): s for s in inj.shots()}
    for key in truth:  # every injection is known as delivered or uncertain
        assert host[key].state in (ShotState.DONE, ShotState.UNCERTAIN), host[key]
    for key, shot in host.items():  # nothing recorded delivered that was not
        assert shot.state.final, shot
        if shot.state is ShotState.DONE:
            assert key in truth, shot
    return truth


@pytest.mark.parametrize("nvm", [1, 0])
def test_a_lost_boot_event_and_power_loss_mid_shot_never_doses_twice(connect: Any, nvm: int) -> None:
    """Defects 1 and 2: the reboot is noticed from the next reply that carries the boot nonce
    (here the background clock sample), and no shot that ran is ever settled 'never ran'."""
    inj = connect(f"seed=2&faults=reboot@2&lose_boot_event=1&nvm_journal={nvm}")
    ready(inj)
    start = inj.device_now() + 0.2
    for i, offset in enumerate((0, 0.25, 0.5, 2.5)):
        inj.queue_shot(fast_shot(i, start + offset))
    deadline = time.monotonic() + 6
    while not inj.rebooted and time.monotonic() < deadline:
        time.sleep(0.05)  # nobody asks: the background clock sample must notice
    assert inj.rebooted, "a reboot without boot_event went unnoticed"
    states = _wait_all(inj, 1, 4)
    truth = _agree_with_truth(inj)
    assert [i for _, i in truth] == [0, 1]
    assert states[0] is ShotState.DONE
    assert states[1] is ShotState.UNCERTAIN  # it was executing when the power failed
    if nvm:  # the journal proves the queued ones never moved
        assert states[2] is states[3] is ShotState.CANCELLED
    else:  # no journal: nobody can prove it, so they count as delivered
        assert states[2] is states[3] is ShotState.UNCERTAIN
    with pytest.raises(ShotBlocked):
        inj.queue_shot(fast_shot(4, 10**12))  # not armed in the new boot: nothing re-sent


def test_clock_samples_from_another_boot_never_enter_the_estimate(connect: Any) -> None:
    inj = connect("seed=3&lose_boot_event=1")
    ready(inj)
    clock = inj.clock
    device_truth(inj, lambda d: d.power_cycle())
    time.sleep(0.2)
    inj.sync_clock(2)
    assert inj.rebooted and inj.clock is not clock  # the old fit was dropped, not polluted
    assert inj.state is DeviceState.IDLE


def test_an_executed_shot_is_never_recorded_not_received(connect: Any) -> None:
    """Defect 2: a shot the device accepted is asked about after an unnoticed reboot; the
    answer comes from a device that is not the boot it was sent to."""
    inj = connect("seed=4&lose_boot_event=1&nvm_journal=0")
    ready(inj)
    inj.queue_shot(fast_shot(0, inj.device_now() + 0.15))
    deadline = time.monotonic() + 2
    while inj.shot(1, 0).state is ShotState.PENDING and time.monotonic() < deadline:
        time.sleep(0.01)
    while not executed(inj) and time.monotonic() < deadline:
        time.sleep(0.005)
    device_truth(inj, lambda d: d.power_cycle())  # mid-shot, and the boot_event is lost
    time.sleep(0.1)
    shot = inj.resolve_shot(1, 0)
    assert shot.state is ShotState.UNCERTAIN, shot
    _agree_with_truth(inj)


def test_two_hosts_never_share_a_session_id(connect: Any) -> None:
    """Defect 4: session ids are drawn at arm and the device refuses one it already armed in
    this boot, so one host can never be answered with another's stored results."""
    inj = connect("seed=5")
    inj.home()
    inj.prime(volume_ul=10.0, flow_ul_s=100.0)
    first = inj.arm()
    inj.disarm()
    inj.wait_state(DeviceState.READY, timeout=2)
    with pytest.raises(CommandRefused) as refused:
        inj.arm(first)  # what a second records database starting at "session 1" would do
    assert refused.value.code == Result.SESSION_USED.name
    second = inj.arm()
    assert second != first


def test_estop_during_homing_ends_the_wait_at_once(connect: Any) -> None:
    """Defect 5: an e-stop during recovery must not leave the caller in home() for 15 s."""
    inj = connect("seed=6")
    errors: list[BaseException] = []

    def homing() -> None:
        try:
            inj.home(timeout=15.0)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    t = threading.Thread(target=homing)
    t.start()
    inj.wait_state(DeviceState.HOMING, timeout=2)
    inj.estop()
    t.join(timeout=5)
    assert not t.is_alive(), "home() still waiting after the e-stop"
    assert errors and isinstance(errors[0], DeviceTimeout) and "ESTOPPED" in str(errors[0])


def test_a_device_that_lost_its_own_link_still_tells_the_host(connect: Any) -> None:
    """Defect 5: the device declares its own link lost and faults; nothing sequenced can reach
    the host, but the fault notice (or the host's status poll) does."""
    inj = connect("seed=7")
    ready(inj)
    inj.queue_shot(fast_shot(0, inj.device_now() + 2))
    device_truth(inj, lambda d: d.lose_link())
    inj.wait_state(DeviceState.FAULT, timeout=5)
    assert inj.last_fault is not None and inj.last_fault.code == Fault.LINK_LOST
    assert inj.wait_shot(1, 0, timeout=5).state is ShotState.CANCELLED
    assert executed(inj) == []


@pytest.mark.parametrize("jump_s", [0.5, -0.5])
def test_a_clock_that_jumps_without_a_reboot_is_a_fault_not_a_sample(connect: Any, jump_s: float) -> None:
    """PROTOCOL.md §12.1: a clock that jumps or runs backwards (same boot) never enters the
    estimate; open shots are asked about again, and device time is re-established at once."""
    inj = connect("seed=8")
    ready(inj)
    inj.queue_shot(fast_shot(0, inj.device_now() + 2.0))
    device_truth(inj, lambda d: d.jump_clock(jump_s))
    inj.sync_clock(1)
    assert not inj.rebooted  # same boot: a fault of the clock, not a reboot
    truth_s = device_truth(inj, lambda d: d.device_ticks()) / 1e6
    assert abs(inj.device_now() - truth_s) < 0.05  # re-fitted on the jumped clock at once
    shot = inj.wait_shot(1, 0, timeout=5)
    assert shot.state.final
    _agree_with_truth(inj)
