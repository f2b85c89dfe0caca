"""The shot ledger's rule book (`verdict`) and its bookkeeping, without a device."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mesodrive.driver import shot_ledger
from mesodrive.driver.shot_ledger import ShotLedger, verdict
from mesodrive.driver.shots import Commanded, Shot, ShotRequest, ShotState
from mesodrive.protocol.messages import ShotRecord, ShotStatus

NEVER_RAN_STATES = (ShotState.CANCELLED, ShotState.NOT_RECEIVED, ShotState.REJECTED)
u32 = st.integers(1, 2**32 - 1)


def record(status: ShotStatus, *, boot: int, shot_boot: int) -> ShotRecord:
    return ShotRecord(token=1, boot_nonce=boot, shot_boot=shot_boot, session=7, index=3,
                      status=int(status), start_tick=5, reached_depth_um=1500, delivered_nl=2000,
                      peak_pressure_pa=1000, flags=0)


@given(status=st.sampled_from(list(ShotStatus)), same_boot=st.booleans(), boot=u32, other=u32,
       seen_accepted=st.booleans(), quiet=st.booleans())
def test_never_ran_only_on_proof(status: ShotStatus, same_boot: bool, boot: int, other: int,
                                 seen_accepted: bool, quiet: bool) -> None:
    """Invariant: a never-ran verdict needs the device's positive proof, and one the host saw
    accepted in this very boot can never be read as never ran."""
    if other == boot:
        other = boot % (2**32 - 1) + 1
    device_boot = boot if same_boot else other
    v = verdict(record(status, boot=device_boot, shot_boot=boot), shot_boot=boot,
                seen_accepted=seen_accepted, link_quiet=quiet)
    if v.state in NEVER_RAN_STATES:
        assert status in (ShotStatus.REJECTED, ShotStatus.CANCELLED, ShotStatus.NEVER_RAN)
        if status is ShotStatus.NEVER_RAN and same_boot:
            assert quiet and not seen_accepted
    if status in (ShotStatus.UNKNOWN, ShotStatus.INTERRUPTED):
        assert v.state is ShotState.UNCERTAIN
    if status is ShotStatus.DONE:
        assert v.state is ShotState.DONE and v.outcome is not None
        assert v.outcome.delivered_ul == 2.0 and v.outcome.reached_depth_mm == 1.5


def test_a_record_about_another_boot_settles_nothing() -> None:
    v = verdict(record(ShotStatus.NEVER_RAN, boot=9, shot_boot=8), shot_boot=7,
                seen_accepted=False, link_quiet=True)
    assert v.state is None and v.ask_again


def _shot(session: int, index: int) -> Shot:
    req = ShotRequest(index=index, depth_mm=1.5, volume_ul=2.0, flow_ul_s=20.0, speed_mm_s=20.0)
    cmd = Commanded(1.5, 2.0, 20.0, 20.0, 0.0, None, "identity")
    return Shot(session, index, 1, req, cmd)


def test_settled_shots_are_pruned_but_their_indices_never_come_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shot_ledger, "KEEP_FINAL", 3)
    lock = threading.RLock()
    ledger = ShotLedger(lock, lambda s: None)
    with lock:
        for i in range(6):
            ledger.reserve((7, i))
            shot = _shot(7, i)
            ledger.add(shot)
            ledger.release((7, i))
            ledger.settle(shot, ShotState.DONE, "")
        assert len(ledger.all()) == 3  # memory stays flat
        for index in (0, 4, 5):  # pruned, kept, and the newest: none can be sent again
            with pytest.raises(KeyError):
                ledger.reserve((7, index))
        ledger.reserve((7, 6))
        ledger.reserve((8, 0))  # another session starts afresh


def test_unresolved_tracks_doubt_and_clears_on_settlement() -> None:
    lock = threading.RLock()
    ledger = ShotLedger(lock, lambda s: None)
    with lock:
        shot = _shot(7, 0)
        ledger.reserve((7, 0))
        ledger.add(shot)
        ledger.on_accepted(7, 0)
        ledger.doubt("link lost")
        assert ledger.unresolved() == [(7, 0)]
        ledger.settle(ledger.get((7, 0)), ShotState.UNCERTAIN, "unreachable")
        assert ledger.unresolved() == [] and ledger.open_keys() == []
