"""The no-double-dose campaign: random link faults in both directions plus device reboots.

Invariant, checked against the simulator's own executed-shot log (the truth):
- every shot executed at most once;
- every executed shot is known to the host as delivered (DONE) or UNCERTAIN — never as
  rejected / cancelled / not received;
- nothing executed that the host did not queue, and every DONE shot really executed.
"""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from mesodrive.driver.errors import DriverError, ShotBlocked
from mesodrive.driver.injector import Injector
from mesodrive.driver.shots import ShotState
from mesodrive.protocol.messages import DeviceState
from tests.driver.conftest import Journal, executed, fast_shot

probability = st.sampled_from([0.0, 0.0, 0.01, 0.03, 0.08])


@st.composite
def link_spec(draw: st.DrawFn) -> str:
    return ",".join(f"{k}:{draw(probability)}" for k in ("drop", "dup", "corrupt", "delay")) + (
        f",split:{draw(st.sampled_from([0.0, 0.3]))}"
    )


def _make_ready(inj: Injector, session: int) -> None:
    """Bring the device to ARMED from whatever state faults left it in."""
    if inj.link_lost:
        inj.reconnect()
    state = inj.status().state
    if state in (DeviceState.FAULT, DeviceState.ESTOPPED):
        inj.clear_fault()
        inj.wait_state(DeviceState.IDLE, timeout=3)
        state = DeviceState.IDLE
    if state in (DeviceState.ARMED, DeviceState.FIRING):
        inj.disarm()
        inj.wait_state(DeviceState.READY, timeout=3)
    if state != DeviceState.READY:
        inj.home(timeout=5)
    inj.arm(session)


@settings(max_examples=4, deadline=None)  # ~4 s each; the 10,000-schedule run is a benchmark
@given(
    seed=st.integers(1, 10_000),
    h2d=link_spec(),
    d2h=link_spec(),
    reboot_at=st.one_of(st.none(), st.integers(1, 5)),
    lose_boot_event=st.booleans(),
    journal_kept=st.booleans(),
)
def test_journal_and_device_log_agree_under_link_faults(seed: int, h2d: str, d2h: str, reboot_at: int | None,
                                                        lose_boot_event: bool, journal_kept: bool) -> None:
    # Reboots the host may not hear of (lost boot_event) on devices with and without a
    # non-volatile shot journal; the 10,000-schedule version is benchmarks/bench_certainty_campaign.py.
    faults = f"&faults=reboot@{reboot_at}" if reboot_at else ""
    faults += f"&lose_boot_event={int(lose_boot_event)}&nvm_journal={int(journal_kept)}"
    url = f"sim://?seed={seed}&realtime=1&link_h2d={h2d}&link_d2h={d2h}{faults}"
    journal = Journal()
    inj: Injector | None = None
    deadline = time.monotonic() + 25
    try:
        while inj is None and time.monotonic() < deadline:
            try:
                inj = Injector.connect(url, journal=journal)
            except DriverError:
                continue  # a handshake lost to faults: try again, as an operator would
        assert inj is not None, "could not connect at all"
        session, index, sent = 1, 0, 0
        while sent < 6 and time.monotonic() < deadline:
            try:
                inj.resolve_uncertain()
                if inj.armed_session is None:
                    session += 1
                    _make_ready(inj, session)
                inj.queue_shot(fast_shot(index, inj.device_now() + 0.3))
                index += 1
                sent += 1
                inj.wait_shot(session, index - 1, timeout=3)
            except ShotBlocked:
                continue
            except DriverError:
                try:
                    inj.reconnect()
                except DriverError:
                    time.sleep(0.1)
        # settle everything still open
        for shot in inj.shots():
            if not shot.state.final:
                inj.wait_shot(shot.session, shot.index, timeout=3)
        host = {(s.session, s.index): s for s in inj.shots()}
        truth = executed(inj)
    finally:
        if inj is not None:
            inj.close()

    keys = [(e.session, e.index) for e in truth]
    assert len(keys) == len(set(keys)), f"executed twice: {keys}"
    for key in keys:
        assert key in host, f"device executed {key}, which the host never queued"
        assert host[key].state in (ShotState.DONE, ShotState.UNCERTAIN), (key, host[key])
    for key, shot in host.items():
        assert shot.state.final, (key, shot)
        if shot.state is ShotState.DONE:
            assert key in keys, f"host thinks {key} was delivered; the device never ran it"
    # the journal's last word on each shot matches the driver's
    latest = journal.latest()
    assert {k: s.state for k, s in latest.items()} == {k: s.state for k, s in host.items()}
